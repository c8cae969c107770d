// The afinar weights file and torchvision's architectures as key/shape lists (see
// include/afinar/io/weights.h). The key lists follow torchvision 0.14's model definitions
// (torchvision/models/vgg.py, resnet.py); tests/io compares them with torchvision's own
// state_dicts for every architecture.
#include "afinar/io/weights.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "afinar/core/check.h"
#include "afinar/nn/models.h"
#include "afinar/nn/resnet.h"

namespace afinar::io {

namespace {

// ---- torchvision's architectures ----

constexpr int64_t kPool = 0;  // 'M' in torchvision's VGG configurations

// torchvision vgg.py cfgs "A", "B", "D", "E".
const std::map<std::string, std::vector<int64_t>>& vgg_configs() {
  static const std::map<std::string, std::vector<int64_t>> cfgs = {
      {"vgg11", {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool}},
      {"vgg13",
       {64, 64, kPool, 128, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool}},
      {"vgg16",
       {64, 64, kPool, 128, 128, kPool, 256, 256, 256, kPool, 512, 512, 512, kPool, 512, 512, 512,
        kPool}},
      {"vgg19", {64,  64,  kPool, 128, 128,   kPool, 256, 256, 256, 256,  kPool,
                 512, 512, 512,   512, kPool, 512,   512, 512, 512, kPool}}};
  return cfgs;
}

struct ResNetConfig {
  std::vector<int64_t> blocks;  // per layer1..layer4
  bool bottleneck;
  int64_t groups = 1, width_per_group = 64;  // ResNeXt and Wide ResNet change these
};

// torchvision resnet.py's builders.
const std::map<std::string, ResNetConfig>& resnet_configs() {
  static const std::map<std::string, ResNetConfig> cfgs = {
      {"resnet18", {{2, 2, 2, 2}, false}},
      {"resnet34", {{3, 4, 6, 3}, false}},
      {"resnet50", {{3, 4, 6, 3}, true}},
      {"resnet101", {{3, 4, 23, 3}, true}},
      {"resnet152", {{3, 8, 36, 3}, true}},
      {"resnext50_32x4d", {{3, 4, 6, 3}, true, 32, 4}},
      {"resnext101_32x8d", {{3, 4, 23, 3}, true, 32, 8}},
      {"resnext101_64x4d", {{3, 4, 23, 3}, true, 64, 4}},
      {"wide_resnet50_2", {{3, 4, 6, 3}, true, 1, 128}},
      {"wide_resnet101_2", {{3, 4, 23, 3}, true, 1, 128}}};
  return cfgs;
}

// A block's 3×3 convolution weight [width, width / groups, 3, 3]: width = planes for BasicBlock,
// int(planes · width_per_group / 64) · groups for Bottleneck (torchvision's formula).
Shape block_conv2_shape(const ResNetConfig& cfg, int64_t planes) {
  if (!cfg.bottleneck) return {planes, planes, 3, 3};
  const int64_t width = nn::bottleneck_width(planes, cfg.groups, cfg.width_per_group);
  return {width, width / cfg.groups, 3, 3};
}

void add_batch_norm(KeyShapes& out, const std::string& prefix, int64_t channels) {
  for (const char* p : {"weight", "bias", "running_mean", "running_var"})
    out.emplace_back(prefix + "." + p, Shape{channels});
  out.emplace_back(prefix + ".num_batches_tracked", Shape{});
}

KeyShapes vgg_keys(const std::vector<int64_t>& cfg, bool bn, int64_t num_classes) {
  KeyShapes out;
  int64_t index = 0, in = 3;
  for (int64_t v : cfg) {
    if (v == kPool) {
      index += 1;  // MaxPool2d
      continue;
    }
    const std::string conv = "features." + std::to_string(index);
    out.emplace_back(conv + ".weight", Shape{v, in, 3, 3});
    out.emplace_back(conv + ".bias", Shape{v});
    if (bn) add_batch_norm(out, "features." + std::to_string(index + 1), v);
    index += bn ? 3 : 2;  // Conv2d [BatchNorm2d] ReLU
    in = v;
  }
  // Linear(512*7*7, 4096) ReLU Dropout Linear(4096, 4096) ReLU Dropout Linear(4096, classes)
  const std::vector<std::pair<int64_t, Shape>> head = {
      {0, {4096, 512 * 7 * 7}}, {3, {4096, 4096}}, {6, {num_classes, 4096}}};
  for (const auto& [i, shape] : head) {
    out.emplace_back("classifier." + std::to_string(i) + ".weight", shape);
    out.emplace_back("classifier." + std::to_string(i) + ".bias", Shape{shape[0]});
  }
  return out;
}

KeyShapes resnet_keys(const ResNetConfig& cfg, int64_t num_classes) {
  KeyShapes out;
  out.emplace_back("conv1.weight", Shape{64, 3, 7, 7});
  add_batch_norm(out, "bn1", 64);
  const int64_t expansion = cfg.bottleneck ? 4 : 1;
  int64_t in = 64;
  for (size_t layer = 0; layer < 4; ++layer) {
    const int64_t planes = 64 << layer;
    for (int64_t b = 0; b < cfg.blocks[layer]; ++b) {
      const std::string p = "layer" + std::to_string(layer + 1) + "." + std::to_string(b) + ".";
      const bool downsample = b == 0 && (layer > 0 || in != planes * expansion);
      if (cfg.bottleneck) {  // 1x1 reduce, 3x3 (carries the stride: v1.5), 1x1 expand
        const Shape conv2 = block_conv2_shape(cfg, planes);
        const int64_t width = conv2[0];
        out.emplace_back(p + "conv1.weight", Shape{width, in, 1, 1});
        add_batch_norm(out, p + "bn1", width);
        out.emplace_back(p + "conv2.weight", conv2);
        add_batch_norm(out, p + "bn2", width);
        out.emplace_back(p + "conv3.weight", Shape{planes * 4, width, 1, 1});
        add_batch_norm(out, p + "bn3", planes * 4);
      } else {
        out.emplace_back(p + "conv1.weight", Shape{planes, in, 3, 3});
        add_batch_norm(out, p + "bn1", planes);
        out.emplace_back(p + "conv2.weight", Shape{planes, planes, 3, 3});
        add_batch_norm(out, p + "bn2", planes);
      }
      if (downsample) {
        out.emplace_back(p + "downsample.0.weight", Shape{planes * expansion, in, 1, 1});
        add_batch_norm(out, p + "downsample.1", planes * expansion);
      }
      in = planes * expansion;
    }
  }
  out.emplace_back("fc.weight", Shape{num_classes, 512 * expansion});
  out.emplace_back("fc.bias", Shape{num_classes});
  return out;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const Shape* find_shape(const KeyShapes& keys, const std::string& key) {
  for (const auto& [k, s] : keys)
    if (k == key) return &s;
  return nullptr;
}

std::string supported_list() {
  std::string s;
  for (const auto& a : supported_archs()) s += (s.empty() ? "" : ", ") + a;
  return s;
}

// The first few entries of a list for an error message, with the count of the rest.
std::string first_few(const std::vector<std::string>& items) {
  constexpr size_t kShown = 5;
  std::string s;
  for (size_t i = 0; i < std::min(items.size(), kShown); ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > kShown) s += " and " + std::to_string(items.size() - kShown) + " more";
  return s;
}

}  // namespace

KeyShapes key_shapes(const StateDict& sd) {
  KeyShapes out;
  for (const auto& [k, t] : sd) out.emplace_back(k, t.shape());
  return out;
}

int64_t parameter_count(const KeyShapes& keys) {
  int64_t n = 0;
  for (const auto& [k, shape] : keys) {
    if (ends_with(k, ".running_mean") || ends_with(k, ".running_var") ||
        ends_with(k, ".num_batches_tracked"))
      continue;
    n += numel_of(shape);
  }
  return n;
}

std::string weights_summary(const std::string& arch, const KeyShapes& keys) {
  std::string digits = std::to_string(parameter_count(keys)), grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return arch + ": " + std::to_string(keys.size()) + " tensors, " + grouped + " params";
}

const std::vector<std::string>& supported_archs() {
  return nn::model_names();
}

KeyShapes torchvision_keys(const std::string& arch, int64_t num_classes) {
  AFN_CHECK(num_classes > 0, "torchvision_keys: num_classes must be positive, got ", num_classes);
  const bool bn = ends_with(arch, "_bn");
  const std::string base = bn ? arch.substr(0, arch.size() - 3) : arch;
  if (auto it = vgg_configs().find(base); it != vgg_configs().end())
    return vgg_keys(it->second, bn, num_classes);
  if (auto it = resnet_configs().find(arch); it != resnet_configs().end())
    return resnet_keys(it->second, num_classes);
  AFN_FAIL("unknown architecture '", arch, "'; afinar knows ", supported_list());
}

KeyShapes model_keys(const std::string& arch, int64_t num_classes, const nn::HeadSpec& head) {
  KeyShapes keys = torchvision_keys(arch, num_classes);
  if (head.is_default()) return keys;
  // The head's input width: the last convolution's channels (VGG, after the global pool) or the
  // inputs of torchvision's fc (ResNet). The head's keys come last, as its module does.
  const std::string prefix = nn::head_module_name(arch) + ".";
  int64_t width = 0;
  KeyShapes out;
  for (auto& [k, shape] : keys) {
    if (k == "fc.weight") width = shape[1];
    if (k.rfind("features.", 0) == 0 && shape.size() == 4) width = shape[0];
    if (k.rfind(prefix, 0) != 0) out.emplace_back(std::move(k), std::move(shape));
  }
  for (auto& entry : nn::head_keys(arch, head, width, num_classes)) out.push_back(std::move(entry));
  return out;
}

int64_t head_classes(const KeyShapes& keys, const std::string& arch, const nn::HeadSpec& head) {
  const std::string key = nn::head_output_key(arch, head);
  const Shape* s = find_shape(keys, key);
  AFN_CHECK(s != nullptr && s->size() == 2, "the state_dict has no 2-D '", key, "' (the output of ",
            arch, " with head ", nn::head_str(head), "), so it is not that model");
  return (*s)[0];
}

void check_arch(const KeyShapes& keys, const std::string& arch, int64_t num_classes,
                const nn::HeadSpec& head) {
  const KeyShapes expected = model_keys(arch, num_classes, head);
  std::map<std::string, Shape> have(keys.begin(), keys.end());
  std::vector<std::string> missing, mismatched, unexpected;
  std::set<std::string> known;
  for (const auto& [k, shape] : expected) {
    known.insert(k);
    auto it = have.find(k);
    if (it == have.end()) {
      if (!ends_with(k, "num_batches_tracked")) missing.push_back(k);
    } else if (it->second != shape) {
      mismatched.push_back(k + " " + shape_str(it->second) + " (expected " + shape_str(shape) +
                           ")");
    }
  }
  for (const auto& [k, shape] : keys)
    if (!known.count(k)) unexpected.push_back(k);
  if (missing.empty() && mismatched.empty() && unexpected.empty()) return;
  std::ostringstream msg;
  msg << "the state_dict is not torchvision's " << arch << " with " << num_classes << " classes";
  if (!head.is_default()) msg << " and head " << nn::head_str(head);
  msg << ":";
  if (!missing.empty())
    msg << " missing " << missing.size() << " keys (" << first_few(missing) << ");";
  if (!unexpected.empty())
    msg << " unexpected " << unexpected.size() << " keys (" << first_few(unexpected) << ");";
  if (!mismatched.empty())
    msg << " " << mismatched.size() << " keys with other shapes (" << first_few(mismatched) << ")";
  AFN_FAIL(msg.str());
}

ArchGuess detect_arch(const KeyShapes& keys, const nn::HeadSpec& head) {
  AFN_CHECK(!keys.empty(), "detect_arch: the state_dict is empty");
  // torchvision's own head tells the family (classifier.6 / fc); a new head replaces those keys,
  // so then the backbone's do (features / layer1).
  const bool vgg = head.is_default() ? find_shape(keys, "classifier.6.weight") != nullptr
                                     : find_shape(keys, "features.0.weight") != nullptr;
  const bool resnet = find_shape(keys, "layer1.0.conv1.weight") != nullptr &&
                      (!head.is_default() || find_shape(keys, "fc.weight") != nullptr);
  std::string arch;
  if (vgg) {
    // VGG: one 4-D weight per convolution; BatchNorm layers carry running statistics.
    int64_t convs = 0;
    bool bn = false;
    for (const auto& [k, s] : keys) {
      if (k.rfind("features.", 0) != 0) continue;
      convs += ends_with(k, ".weight") && s.size() == 4;
      bn = bn || ends_with(k, ".running_mean");
    }
    const std::map<int64_t, std::string> by_convs = {
        {8, "vgg11"}, {10, "vgg13"}, {13, "vgg16"}, {16, "vgg19"}};
    auto it = by_convs.find(convs);
    AFN_CHECK(it != by_convs.end(), "the state_dict looks like a VGG (it has ",
              head.is_default() ? "classifier.6" : "features.0", ") but has ", convs,
              " convolutions; torchvision's VGGs have 8, 10, 13 or 16");
    arch = it->second + (bn ? "_bn" : "");
  } else if (resnet) {
    // ResNet: blocks per layer from the highest block index, Bottleneck when blocks have conv3.
    std::vector<int64_t> blocks(4, 0);
    for (const auto& [k, s] : keys) {
      for (int layer = 1; layer <= 4; ++layer) {
        const std::string prefix = "layer" + std::to_string(layer) + ".";
        if (k.rfind(prefix, 0) != 0) continue;
        const int64_t b = std::atoll(k.c_str() + prefix.size());
        blocks[size_t(layer - 1)] = std::max(blocks[size_t(layer - 1)], b + 1);
      }
    }
    // Same blocks, other widths (resnet50, resnext50_32x4d, wide_resnet50_2): the first 3×3
    // convolution's weight tells them apart. Without a match the plainest candidate is taken, so
    // that check_arch names the shapes that differ.
    const bool bottleneck = find_shape(keys, "layer1.0.conv3.weight") != nullptr;
    const Shape* conv2 = find_shape(keys, "layer1.0.conv2.weight");
    std::string fallback;
    for (const auto& [name, cfg] : resnet_configs()) {
      if (cfg.blocks != blocks || cfg.bottleneck != bottleneck) continue;
      const bool plain = cfg.groups == 1 && cfg.width_per_group == 64;
      if (plain || fallback.empty()) fallback = name;
      if (conv2 != nullptr && *conv2 == block_conv2_shape(cfg, 64)) arch = name;
    }
    if (arch.empty()) arch = fallback;
    AFN_CHECK(!arch.empty(), "the state_dict looks like a ResNet but has ", shape_str(blocks),
              " blocks per layer (", bottleneck ? "Bottleneck" : "BasicBlock",
              "); torchvision's are resnet18 [2,2,2,2], resnet34 [3,4,6,3] (BasicBlock), resnet50, "
              "resnext50_32x4d, wide_resnet50_2 [3,4,6,3], resnet101, resnext101_32x8d, "
              "resnext101_64x4d, wide_resnet101_2 [3,4,23,3], resnet152 [3,8,36,3] (Bottleneck)");
  } else if (head.is_default()) {
    AFN_FAIL("cannot tell the architecture: the state_dict (", keys.size(), " keys, the first '",
             keys.front().first,
             "') has neither classifier.6 (VGG) nor layer1 and fc (ResNet); "
             "afinar imports ",
             supported_list());
  } else {
    AFN_FAIL("cannot tell the architecture: the state_dict (", keys.size(), " keys, the first '",
             keys.front().first, "') has neither features.0 (VGG) nor layer1 (ResNet)");
  }
  const int64_t classes = head_classes(keys, arch, head);
  check_arch(keys, arch, classes, head);
  return {arch, classes};
}

ArchGuess detect_arch(const StateDict& sd, const nn::HeadSpec& head) {
  return detect_arch(key_shapes(sd), head);
}

Preprocessing torchvision_preprocessing(const std::string& source) {
  // torchvision 0.14's Weights.transforms() for its published weights, by file name: the weights
  // trained with the newer recipe (every IMAGENET1K_V2, and resnext101_64x4d's only one) evaluate
  // with resize 232; VGG16's IMAGENET1K_FEATURES (converted from Caffe) keep the 0..255 pixel
  // scale around Caffe's mean; every other ImageNet weight uses 256 and ImageNet's mean / std.
  static const char* const kResize232[] = {
      "resnet50-11ad3fa6",        "resnet101-cd907fc2",        "resnet152-f82ba261",
      "resnext50_32x4d-1a0047aa", "resnext101_32x8d-110c445d", "resnext101_64x4d-173b62eb",
      "wide_resnet50_2-9ba9bcbe", "wide_resnet101_2-d733dc28"};
  Preprocessing p;
  const std::string name = std::filesystem::path(source).filename().string();
  const auto named = [&](std::string_view stem) { return name.rfind(stem, 0) == 0; };
  for (const char* stem : kResize232)
    if (named(stem)) p.resize = 232;
  if (named("vgg16_features-amdegroot-88682ab5")) {
    p.mean = {0.48235, 0.45882, 0.40784};
    p.std = {1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0};
  }
  return p;
}

// ---- the file ----

namespace {
constexpr const char* kStateDict = "/state_dict";

// The head attributes: none for torchvision's own head (files from before heads read as such).
void write_head(hdf5::File& f, const nn::HeadSpec& head) {
  nn::check_head(head);
  if (head.is_default()) return;
  f.write_attr("/", "head", head.kind);
  if (head.kind != "mlp") return;
  f.write_attr("/", "head_hidden", head.hidden);
  f.write_attr("/", "head_dropout", std::vector<double>(head.dropout.begin(), head.dropout.end()));
}

nn::HeadSpec read_head(const hdf5::File& f, const std::string& path) {
  nn::HeadSpec head;
  if (!f.has_attr("/", "head")) return head;
  head.kind = f.read_attr_string("/", "head");
  if (head.kind == "mlp") {
    head.hidden = f.read_attr_int("/", "head_hidden");
    const std::vector<double> p = f.read_attr_doubles("/", "head_dropout");
    AFN_CHECK(p.size() == 2, path, ": head_dropout must have 2 values, got ", p.size());
    head.dropout = {p[0], p[1]};
  }
  try {
    nn::check_head(head);
  } catch (const Error& e) {
    AFN_FAIL(path, ": ", e.what());
  }
  return head;
}

void check_key(const std::string& key) {
  AFN_CHECK(!key.empty() && key.find('/') == std::string::npos && key != "." && key != "..",
            "weights: the state_dict key '", key,
            "' cannot name an HDF5 dataset (empty, '.', '..' or containing '/')");
}
}  // namespace

WeightsWriter::WeightsWriter(const std::string& path) : out_(path) {
  file_ = std::make_unique<hdf5::File>(hdf5::File::create(out_.temp_path()));
  file_->create_group(kStateDict, /*track_order=*/true);
}

WeightsWriter::~WeightsWriter() = default;

void WeightsWriter::add(const std::string& key, DType dtype, const Shape& shape, const void* data) {
  check_key(key);
  AFN_CHECK(dtype == DType::F32 || dtype == DType::I64, "weights: '", key, "' has dtype ", dtype,
            "; a weights file holds float32 (int64 for num_batches_tracked)");
  file().write_raw(std::string(kStateDict) + "/" + key, dtype, shape, data);
}

hdf5::File& WeightsWriter::file() {
  AFN_CHECK(file_ != nullptr, "weights: ", out_.destination(), " is already committed");
  return *file_;
}

void WeightsWriter::add(const std::string& key, const Tensor& t) {
  const Tensor c = t.cpu().contiguous();
  add(key, c.dtype(), c.shape(), c.numel() > 0 ? c.raw_data() : nullptr);
}

void WeightsWriter::commit(const WeightsMeta& meta) {
  hdf5::File& f = file();
  const Preprocessing& p = meta.preprocessing;
  data::check_preprocessing(p, "weights");
  f.write_attr("/", "format", std::string(kWeightsFormat));
  f.write_attr("/", "format_version", kWeightsFormatVersion);
  f.write_attr("/", "arch", meta.arch);
  f.write_attr("/", "num_classes", meta.num_classes);
  f.write_attr("/", "source", meta.source);
  f.write_attr("/", "source_sha256", meta.source_sha256);
  f.write_attr("/", "mean", p.mean);
  f.write_attr("/", "std", p.std);
  f.write_attr("/", "resize", p.resize);
  f.write_attr("/", "crop", p.crop);
  f.write_attr("/", "crop_mode", std::string(data::crop_mode_name(p.crop_mode)));
  f.write_attr("/", "interpolation", std::string(data::interpolation_name(p.interpolation)));
  if (!meta.class_names.empty()) {
    AFN_CHECK(int64_t(meta.class_names.size()) == meta.num_classes,
              "weights: ", meta.class_names.size(), " class names for ", meta.num_classes,
              " classes");
    f.write_attr("/", "class_names", meta.class_names);
  }
  write_head(f, meta.head);
  file_.reset();  // closes the HDF5 file before the rename
  out_.commit();
}

void save_weights(const std::string& path, const StateDict& sd, const WeightsMeta& meta) {
  WeightsWriter w(path);
  for (const auto& [key, t] : sd) w.add(key, t);
  w.commit(meta);
}

namespace {

// Opens a weights file, checking its format and format_version.
hdf5::File open_weights(const std::string& path) {
  hdf5::File f = hdf5::File::open(path);
  AFN_CHECK(f.has_attr("/", "format") && f.read_attr_string("/", "format") == kWeightsFormat, path,
            " is not an afinar weights file (no format=\"", kWeightsFormat,
            "\" attribute); import a .pth with `afinar import`");
  const int64_t version = f.read_attr_int("/", "format_version");
  AFN_CHECK(version == kWeightsFormatVersion, path, " has format_version ", version,
            "; this afinar reads version ", kWeightsFormatVersion, " (upgrade afinar)");
  return f;
}

Preprocessing read_preprocessing(const hdf5::File& f, const std::string& path) {
  Preprocessing p;
  p.mean = f.read_attr_doubles("/", "mean");
  p.std = f.read_attr_doubles("/", "std");
  p.resize = f.read_attr_int("/", "resize");
  p.crop = f.read_attr_int("/", "crop");
  if (f.has_attr("/", "crop_mode")) {
    const std::string mode = f.read_attr_string("/", "crop_mode");
    AFN_CHECK(data::is_crop_mode(mode), path, ": crop_mode must be center or squash, got '", mode,
              "'");
    p.crop_mode = data::crop_mode_of(mode);
  }
  if (f.has_attr("/", "interpolation")) {
    const std::string name = f.read_attr_string("/", "interpolation");
    AFN_CHECK(data::is_interpolation(name), path,
              ": interpolation must be nearest, bilinear or bicubic, got '", name, "'");
    p.interpolation = data::interpolation_of(name);
  }
  data::check_preprocessing(p, path);
  return p;
}

}  // namespace

Preprocessing load_preprocessing(const std::string& path) {
  return read_preprocessing(open_weights(path), path);
}

Weights load_weights(const std::string& path) {
  const hdf5::File f = open_weights(path);
  Weights w;
  WeightsMeta& m = w.meta;
  m.arch = f.read_attr_string("/", "arch");
  m.num_classes = f.read_attr_int("/", "num_classes");
  m.source = f.read_attr_string("/", "source");
  m.source_sha256 = f.read_attr_string("/", "source_sha256");
  m.preprocessing = read_preprocessing(f, path);
  if (f.has_attr("/", "class_names")) m.class_names = f.read_attr_strings("/", "class_names");
  m.head = read_head(f, path);
  for (const std::string& key : f.list(kStateDict, hdf5::LinkOrder::Creation)) {
    Tensor t = f.read_tensor(std::string(kStateDict) + "/" + key);
    AFN_CHECK(t.dtype() == (ends_with(key, "num_batches_tracked") ? DType::I64 : DType::F32), path,
              ": dataset ", key, " has dtype ", t.dtype(),
              "; expected float32 (int64 for num_batches_tracked)");
    w.state_dict.insert(key, std::move(t));
  }
  return w;
}

}  // namespace afinar::io
