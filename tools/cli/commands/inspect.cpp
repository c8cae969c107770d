// `afinar inspect --weights W.h5 (--data-dir DIR [--split S] | IMG...)`: layer internals for one
// batch (train/inspect.h). The batch is the first -b images of the split in ImageFolder order
// (labelled), or the images given (the loss then uses the predicted classes), with the weights
// file's evaluation preprocessing; the model runs in eval mode. Prints the activation statistics
// of every leaf module and the gradient norms of every parameter as tables, or with --json one
// object per line:
//   {"kind": "batch", "images": [...], "targets": [...], "target_source": "labels"|"predicted",
//    "loss": x}
//   {"kind": "activation", "module": name, "type": "Conv2d", "shape": [...], "mean": x,
//    "std": x, "min": x, "max": x, "zeros": fraction}
//   {"kind": "gradient", "param": name, "shape": [...], "grad_norm": x, "weight_norm": x,
//    "ratio": x}                                   (null where a value is NaN)
//   {"kind": "file", "path": path}                 (--dump, --filters)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "afinar/data/dataset.h"
#include "afinar/io/json.h"
#include "afinar/io/model_file.h"
#include "afinar/train/inspect.h"
#include "command.h"

namespace afinar::cli {

namespace {

using io::json_number;
using io::json_string;

std::string json_shape(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out.append(i ? ", " : "").append(std::to_string(shape[i]));
  return out + "]";
}

// "3: cat, dog, owl" (at most 4 names, then "...").
std::string first_names(const std::vector<std::string>& names) {
  std::string out = std::to_string(names.size());
  for (size_t i = 0; i < names.size() && i < 4; ++i) out.append(i ? ", " : ": ").append(names[i]);
  if (names.size() > 4) out.append(", ...");
  return out;
}

// A number for the tables: 4 significant digits, "-" for NaN (no gradient, or a zero weight).
std::string cell(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

class InspectCommand : public Command {
 public:
  const char* name() const override { return "inspect"; }
  const char* description() const override {
    return "Per-layer activation statistics and gradient norms for one batch; dumps of chosen "
           "activations and filters (HDF5, PNG grids)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--weights", weights_, "afinar weights file (afinar import / train)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--arch,--model", arch_, "Architecture (default: the weights file's)");
    // Exactly one source of images.
    CLI::Option_group* input = app.add_option_group("input", "The batch: one of");
    CLI::Option* dir = input->add_option(
        "--data-dir", data_dir_, "ImageFolder root: the first -b images of --split, labelled");
    input->add_option(
        "images", images_,
        "Image files (the loss uses the predicted classes); put them before --dump / --filters, "
        "or after --");
    input->require_option(1);
    app.add_option("--split", split_, "Split of --data-dir (train/val/test folders or all images)")
        ->capture_default_str()
        ->check(CLI::IsMember({"train", "val", "test"}))
        ->needs(dir);
    app.add_option("-b,--batch-size", batch_, "Images from --data-dir")
        ->capture_default_str()
        ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
    app.add_option("--device", device_, "cpu or cuda[:N]")->capture_default_str();
    app.add_option("--dump", options_.dump,
                   "Module name patterns (glob): outputs to OUT/activations.h5 and "
                   "OUT/act_<name>.png");
    app.add_option("--filters", options_.filters,
                   "Conv2d module name patterns (glob): weights to OUT/filters.h5 and "
                   "OUT/filters_<name>.png");
    app.add_option("-o,--output", options_.output_dir, "Folder for --dump and --filters (OUT)")
        ->capture_default_str();
    app.add_option("--tile", options_.min_tile, "Smallest side of a PNG grid tile in pixels")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    app.add_flag("--json", json_, "One JSON object per line");
  }

  int run() override {
    const io::Weights w = io::load_weights(weights_);
    nn::ModulePtr model = io::load_model(w, arch_);
    const Device device(device_);
    model->to(device);
    model->eval();
    std::vector<std::string> paths = images_;
    Tensor labels;
    std::string source = "the images given";
    if (!data_dir_.empty()) labels = first_batch(w.meta, paths, source);
    const Tensor x = train::eval_batch(paths, w.meta.preprocessing).to(device);
    const train::Inspection r = train::inspect(*model, x, labels, options_);
    if (json_)
      print_json(r, paths);
    else
      print_tables(r, w.meta, source);
    return 0;
  }

 private:
  // The first batch_ samples of the split; their labels, after checking that the data's classes
  // are the weights file's (else the labels would name other classes).
  Tensor first_batch(const io::WeightsMeta& meta, std::vector<std::string>& paths,
                     std::string& source) const {
    const data::DatasetSplits s = data::open_splits(data_dir_);
    const std::vector<data::Sample>& split = split_ == "val"    ? s.val
                                             : split_ == "test" ? s.test
                                                                : s.train;
    const std::string& from = split_ == "val"    ? s.val_source
                              : split_ == "test" ? s.test_source
                                                 : s.train_source;
    AFN_CHECK(!split.empty(), "inspect: '", data_dir_, "' has no ", split_,
              " images (a val or test split needs its own folder there); pick another --split");
    const bool same = meta.class_names.empty() ? int64_t(s.classes.size()) == meta.num_classes
                                               : s.classes == meta.class_names;
    AFN_CHECK(same, "inspect: the classes of '", data_dir_, "' (", first_names(s.classes),
              ") are not those of '", weights_, "' (",
              meta.class_names.empty() ? detail::concat(meta.num_classes, " unnamed classes")
                                       : first_names(meta.class_names),
              "), so its labels would be wrong; give the images as files instead (the loss then "
              "uses the predicted classes)");
    std::vector<int64_t> labels;
    for (size_t i = 0; i < split.size() && int64_t(i) < batch_; ++i) {
      paths.push_back(split[i].path);
      labels.push_back(split[i].label);
    }
    source = from;
    return from_vector(labels, {int64_t(labels.size())});
  }

  void print_tables(const train::Inspection& r, const io::WeightsMeta& meta,
                    const std::string& source) const {
    const int64_t n = r.targets.numel();
    std::printf("%s (%ld classes), %ld image%s from %s, eval mode, %s\n\n", meta.arch.c_str(),
                long(meta.num_classes), long(n), n == 1 ? "" : "s", source.c_str(),
                device_.c_str());
    size_t width = 9, type_width = 4;  // "parameter", "type"
    for (const auto& a : r.activations) {
      width = std::max(width, a.name.size());
      type_width = std::max(type_width, a.type.size());
    }
    for (const auto& g : r.gradients) width = std::max(width, g.name.size());
    const int nw = int(width), tw = int(type_width);
    std::printf("%-*s  %-*s  %-18s %10s %10s %10s %10s %7s\n", nw, "module", tw, "type",
                "output shape", "mean", "std", "min", "max", "zeros");
    for (const auto& a : r.activations)
      std::printf("%-*s  %-*s  %-18s %10s %10s %10s %10s %6.1f%%\n", nw, a.name.c_str(), tw,
                  a.type.c_str(), shape_str(a.shape).c_str(), cell(a.mean).c_str(),
                  cell(a.std).c_str(), cell(a.min).c_str(), cell(a.max).c_str(),
                  100 * a.zero_fraction);
    std::printf("\ncross-entropy %.6g against the %s\n\n", r.loss,
                r.predicted_targets ? "predicted classes" : "labels");
    std::printf("%-*s  %-18s %12s %12s %12s\n", nw, "parameter", "shape", "|grad|", "|weight|",
                "|grad|/|w|");
    for (const auto& g : r.gradients)
      std::printf("%-*s  %-18s %12s %12s %12s\n", nw, g.name.c_str(), shape_str(g.shape).c_str(),
                  cell(g.grad_norm).c_str(), cell(g.weight_norm).c_str(), cell(g.ratio).c_str());
    if (!r.files.empty()) std::printf("\n");
    for (const std::string& f : r.files) std::printf("wrote %s\n", f.c_str());
  }

  void print_json(const train::Inspection& r, const std::vector<std::string>& paths) const {
    std::string line = "{\"kind\": \"batch\", \"images\": [";
    for (size_t i = 0; i < paths.size(); ++i)
      line.append(i ? ", " : "").append(json_string(paths[i]));
    line += "], \"targets\": " + json_shape(r.targets.to_vector<int64_t>());
    line += ", \"target_source\": \"" + std::string(r.predicted_targets ? "predicted" : "labels");
    std::printf("%s\", \"loss\": %s}\n", line.c_str(), json_number(r.loss).c_str());
    for (const auto& a : r.activations)
      std::printf(
          "{\"kind\": \"activation\", \"module\": %s, \"type\": %s, \"shape\": %s, \"mean\": %s, "
          "\"std\": %s, \"min\": %s, \"max\": %s, \"zeros\": %s}\n",
          json_string(a.name).c_str(), json_string(a.type).c_str(), json_shape(a.shape).c_str(),
          json_number(a.mean).c_str(), json_number(a.std).c_str(), json_number(a.min).c_str(),
          json_number(a.max).c_str(), json_number(a.zero_fraction).c_str());
    for (const auto& g : r.gradients)
      std::printf(
          "{\"kind\": \"gradient\", \"param\": %s, \"shape\": %s, \"grad_norm\": %s, "
          "\"weight_norm\": %s, \"ratio\": %s}\n",
          json_string(g.name).c_str(), json_shape(g.shape).c_str(),
          json_number(g.grad_norm).c_str(), json_number(g.weight_norm).c_str(),
          json_number(g.ratio).c_str());
    for (const std::string& f : r.files)
      std::printf("{\"kind\": \"file\", \"path\": %s}\n", json_string(f).c_str());
  }

  std::string weights_, arch_, data_dir_, split_ = "train", device_ = "cpu";
  std::vector<std::string> images_;
  int64_t batch_ = 8;
  train::InspectOptions options_;
  bool json_ = false;
};

}  // namespace

AFN_CLI_COMMAND(InspectCommand);

}  // namespace afinar::cli
