// The afinar weights file (DESIGN.md "Formats"): HDF5 with root attributes
//   format="afinar-weights", format_version=1, arch, num_classes, source, source_sha256,
//   mean, std, resize, crop [, crop_mode] [, interpolation] [, class_names]
//   [, head [, head_hidden, head_dropout]]
// (the preprocessing, data/preprocessing.h: crop_mode "center" or "squash", absent means center;
// interpolation "nearest", "bilinear" or "bicubic", absent means bilinear;
// load_weights checks it as check_preprocessing does, so a file cannot ask for a huge resize)
// (`head` = "linear" or "mlp" for a model with a new head, nn/head.h; mlp adds head_hidden
// (int64) and head_dropout (two float64); absent means torchvision's own head, so files written
// before heads existed read as they did)
// and group /state_dict holding one dataset per PyTorch key (`/state_dict/layer1.0.conv1.weight`),
// same shape as PyTorch, float32 (int64 for num_batches_tracked), in the state_dict's order.
// Written to `<dst>.tmp-XXXXXX` and renamed, so a failure leaves no partial file.
//
//   save_weights("resnet18.h5", sd, meta);
//   Weights w = load_weights("resnet18.h5");        // checks format and version
//   ArchGuess g = detect_arch(sd);                   // {"resnet18", 1000} from keys and shapes
//   check_arch(key_shapes(sd), "vgg16", 1000);       // throws listing what does not match
//   check_arch(key_shapes(sd), "vgg16", 10, {.kind = "linear"});   // seed 000's model
//
// The architectures are torchvision's: vgg11/13/16/19 (+ _bn) and resnet18/34/50/101/152;
// torchvision_keys() lists each one's state_dict keys and shapes.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "afinar/data/preprocessing.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/hdf5.h"
#include "afinar/nn/head.h"
#include "afinar/nn/state_dict.h"

namespace afinar::io {

inline constexpr const char* kWeightsFormat = "afinar-weights";
inline constexpr int64_t kWeightsFormatVersion = 1;

using data::Preprocessing;  // resize, crop, crop_mode, interpolation, mean, std

// torchvision's transform for the weights file `source` (its file name, as torchvision publishes
// it): crop 224; resize 232 for the weights of the newer recipe (the IMAGENET1K_V2 files of
// ResNet50/101/152, ResNeXt and Wide ResNet, and resnext101_64x4d-173b62eb), 256 for the others;
// ImageNet's mean / std, but for VGG16's IMAGENET1K_FEATURES (vgg16_features-amdegroot-88682ab5:
// Caffe's mean, std 1/255). Any other name gets the 256 / ImageNet defaults.
Preprocessing torchvision_preprocessing(const std::string& source);

struct WeightsMeta {
  std::string arch;
  int64_t num_classes = 0;
  std::string source;         // the file the weights came from (its name)
  std::string source_sha256;  // of that file
  Preprocessing preprocessing;
  std::vector<std::string> class_names;  // optional: one per class, index order
  nn::HeadSpec head;                     // the model's head (default: torchvision's)
};

struct Weights {
  StateDict state_dict;
  WeightsMeta meta;
};

// ---- architectures ----

using KeyShapes = std::vector<std::pair<std::string, Shape>>;
KeyShapes key_shapes(const StateDict& sd);
// Elements in the learnable parameters: every key but BatchNorm's running_mean, running_var and
// num_batches_tracked buffers (torchvision's counts: resnet18 11,689,512).
int64_t parameter_count(const KeyShapes& keys);
// "resnet18: 102 tensors, 11,689,512 params", for the import / export summaries.
std::string weights_summary(const std::string& arch, const KeyShapes& keys);

// The architectures afinar builds and imports: nn::model_names(), every one with its key table.
const std::vector<std::string>& supported_archs();
// torchvision's state_dict keys and shapes for `arch`, in its order (num_batches_tracked
// included).
KeyShapes torchvision_keys(const std::string& arch, int64_t num_classes);

// The keys and shapes of nn::create_model(arch, num_classes, head): torchvision's with the head's
// keys in place of its own (the same list for the default head).
KeyShapes model_keys(const std::string& arch, int64_t num_classes, const nn::HeadSpec& head);

struct ArchGuess {
  std::string arch;
  int64_t num_classes = 0;
};
// The architecture from the keys and shapes: VGG depth from the number of convolutions and _bn
// from BatchNorm keys, ResNet depth from the blocks per layer and conv3 (Bottleneck); the class
// count from the head (classifier.6 / fc, or the output Linear of `head`, which a weights file's
// meta names). The whole key set is then checked against that architecture and head; anything
// else is an error naming what was found. A .pth has no meta: it is imported with the default.
ArchGuess detect_arch(const KeyShapes& keys, const nn::HeadSpec& head = {});
ArchGuess detect_arch(const StateDict& sd, const nn::HeadSpec& head = {});
// The number of classes `arch`'s head has in `keys` (the rows of classifier.6.weight, fc.weight
// or the head's output weight, nn::head_output_key).
int64_t head_classes(const KeyShapes& keys, const std::string& arch, const nn::HeadSpec& head = {});
// Throws an error listing missing, unexpected and mis-shaped keys (the first few of each) when
// `keys` is not `arch` with `num_classes` and `head` (model_keys). num_batches_tracked may be
// absent (files saved before PyTorch 0.4.1 have none).
void check_arch(const KeyShapes& keys, const std::string& arch, int64_t num_classes,
                const nn::HeadSpec& head = {});

// ---- the file ----

// Writes a weights file one tensor at a time (the importer streams from a mapped .pth).
class WeightsWriter {
 public:
  explicit WeightsWriter(const std::string& path);
  ~WeightsWriter();
  // `data`: row-major elements of `dtype` (float32, or int64 for num_batches_tracked).
  void add(const std::string& key, DType dtype, const Shape& shape, const void* data);
  void add(const std::string& key, const Tensor& t);
  // The file being written, for formats built on this one (a checkpoint adds its groups here).
  hdf5::File& file();
  // Writes the root attributes, closes the file and renames it into place.
  void commit(const WeightsMeta& meta);

 private:
  AtomicFile out_;
  std::unique_ptr<hdf5::File> file_;
};

void save_weights(const std::string& path, const StateDict& sd, const WeightsMeta& meta);
// Reads a weights file, checking format and format_version; the state_dict comes back in the
// order it was written.
Weights load_weights(const std::string& path);
// A weights file's preprocessing alone (its tensors are not read), checked as load_weights does.
Preprocessing load_preprocessing(const std::string& path);

}  // namespace afinar::io
