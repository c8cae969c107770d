// Layer internals for one batch, for research and teaching (`afinar inspect`): what every layer
// outputs, how large the gradients are against the weights, and pictures of chosen activations
// and convolution filters.
//
//   model->eval();
//   Tensor x = eval_batch(paths, weights.meta.preprocessing);          // [B, 3, crop, crop]
//   Inspection r = inspect(*model, x, labels, {.dump = {"layer1.0.conv1"}, .filters = {"conv1"},
//                                               .output_dir = "inspect"});
//   for (const ActivationStats& a : r.activations) std::cout << a.name << " " << a.zero_fraction;
//
// One forward, one cross-entropy and one backward, all in the mode the model is in (the caller
// chooses: `afinar inspect` uses eval(), so BatchNorm uses its running statistics and nothing in
// the model changes):
//   - activations: a forward hook (nn/module.h) sees every call of every leaf module (one with no
//     children: Conv2d, BatchNorm2d, ReLU, ...), in the order the calls finish. A module called
//     more than once in the forward (torchvision's BasicBlock calls its `relu` twice) gets one
//     entry per call: "layer1.0.relu", then "layer1.0.relu#2". Statistics over every element of
//     the output [B, ...], accumulated in double: mean, std (Bessel-corrected, as torch.std),
//     min, max and the fraction of elements exactly 0 (after a ReLU: the dead units).
//   - gradients: loss = cross_entropy(logits, targets) (mean over the batch) with targets = the
//     labels when given, else the predicted classes argmax(logits); backward with requires_grad
//     set on every parameter. Per parameter: ‖grad‖₂, ‖w‖₂ and ‖grad‖₂ / ‖w‖₂ (the relative size
//     of one SGD step per unit of lr). Each parameter's requires_grad and .grad are restored
//     afterwards, so a frozen model stays frozen and an accumulated gradient is kept.
//   - dump (glob patterns on module names, nn::glob_match: "layer1.0.conv1", "features.*"; any
//     module but the model itself): every call's output [B, C, H, W] as float32 to
//     output_dir/activations.h5 (one dataset per call, named as above, attribute "type") and a
//     PNG grid of image 0's channels, output_dir/act_<name>.png (channel_grid). A [B, F] output
//     (Linear) or one of 1x1 planes ([B, C, 1, 1]) is drawn as one near-square tile of image 0's
//     values normalised together (one value per tile would only draw black squares).
//   - filters (glob patterns on the names of Conv2d modules): each weight [O, I, kh, kw] to
//     output_dir/filters.h5 (a dataset per module) and output_dir/filters_<name>.png
//     (filter_grid).
// A pattern that matches no module is an error naming it, raised before the forward.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/data/image.h"
#include "afinar/io/weights.h"
#include "afinar/nn/module.h"

namespace afinar::train {

struct ActivationStats {
  std::string name;  // "layer1.0.conv1"; the k-th call (k ≥ 2) of a module: "layer1.0.relu#2"
  std::string type;  // "Conv2d"
  Shape shape;       // of the output
  double mean = 0, std = 0, min = 0, max = 0;
  double zero_fraction = 0;  // elements exactly 0 (−0 included)
};

struct GradientStats {
  std::string name;  // "layer1.0.conv1.weight"
  Shape shape;
  double grad_norm = 0;    // NaN when the backward did not reach the parameter
  double weight_norm = 0;  //
  double ratio = 0;        // grad_norm / weight_norm; NaN when weight_norm is 0
};

struct InspectOptions {
  std::vector<std::string> dump{};     // module name patterns: outputs to HDF5 + PNG
  std::vector<std::string> filters{};  // Conv2d module name patterns: weights to HDF5 + PNG
  std::string output_dir = "inspect";  // created when something is written
  int64_t min_tile = 32;  // PNG tiles are enlarged (nearest) to at least this many pixels a side
};

struct Inspection {
  std::vector<ActivationStats> activations;  // leaf module calls, in the order they finished
  std::vector<GradientStats> gradients;      // named_parameters() order
  Tensor logits;                             // [B, classes], detached, on the CPU
  Tensor targets;                            // [B] int64 the loss used, on the CPU
  bool predicted_targets = false;            // targets are argmax(logits), not labels
  double loss = 0;
  std::vector<std::string> files;  // written, in order
};

// `images` [B, C, H, W] on the model's device; `labels` [B] int64 class indices, or undefined for
// "use the predicted classes". The model must return logits [B, classes].
Inspection inspect(nn::Module& model, const Tensor& images, const Tensor& labels,
                   const InspectOptions& options = {});

// The statistics above of any floating tensor (name and type left empty).
ActivationStats activation_stats(const Tensor& t);

// ---- pictures --------------------------------------------------------------------------------
// Grids drawn as torchvision's make_grid(normalize=True, scale_each=True) + save_image draw them:
// n tiles, each min-max normalised on its own, v ↦ floor(255·(v − lo) / max(hi − lo, 1e-5) + 0.5)
// (a constant tile is black), in cols = ceil(√n) columns and rows = ceil(n / cols) rows, with 1
// white pixel between and around the tiles (visible next to dead ReLU units, unlike make_grid's
// default black). Each tile of h×w is enlarged by the integer factor
// s = max(1, ceil(min_tile / max(h, w))) with nearest neighbours, so a 3×3 filter stays visible:
//   height = rows·(s·h + 1) + 1,   width = cols·(s·w + 1) + 1.

// x [C, H, W] (one image's activation): one grey tile per channel.
data::Image channel_grid(const Tensor& x, int64_t min_tile = 32);
// w [O, I, kh, kw]: with I = 3 (a first layer on RGB) one colour tile per filter, its three
// channels normalised together; otherwise one grey tile per w[o, 0].
data::Image filter_grid(const Tensor& w, int64_t min_tile = 32);
// Writes `image` as a PNG file (through a temporary name: no partial file on failure).
void write_png(const std::string& path, const data::Image& image);

// ---- input -------------------------------------------------------------------------------------
// Decodes `paths` and applies the evaluation preprocessing of a weights file (Resize, CenterCrop,
// Normalize): a float32 [B, 3, crop, crop] batch on the CPU. An unreadable image is an error
// naming it.
Tensor eval_batch(const std::vector<std::string>& paths, const io::Preprocessing& preprocessing);

}  // namespace afinar::train
