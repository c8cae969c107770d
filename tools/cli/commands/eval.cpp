// `afinar eval --weights W.h5 --data-dir DIR`: a weights file's figures on a dataset, with the
// file's own preprocessing (data/preprocessing.h: Resize -> CenterCrop -> Normalize):
// images, loss, accuracy, top-5 (more than 5 classes), macro precision / recall / F1, a per-class
// table and the confusion matrix with class names; --json prints them as one JSON object instead:
//   {"weights", "data", "split", "images", "skipped", "tta", "amp", "fold_bn", "loss", "accuracy",
//    "top5" (null with 5 classes or fewer), "precision_macro", "recall_macro", "f1_macro",
//    "classes": [names],
//    "per_class": [{"class", "precision", "recall", "f1", "support"}, ...],
//    "confusion": [[...], ...] (rows: true class, columns: predicted)}
// DIR is an ImageFolder root with train/ val/ (or valid/) test/ folders, of which --split picks
// one (default: test, else val), or a folder of class folders, evaluated whole (split "all").
// Its class folders must be the weights file's class_names (or, for a file without names, as
// many as its classes). --tta averages each image's logits with its mirror image's
// (train::EpochOptions::tta); --amp runs the forward in bf16 mixed precision (EpochOptions::amp),
// --channels-last in NHWC (EpochOptions::channels_last); --fold-bn folds each batch norm into the
// convolution before it first (nn::fuse_conv_bn: the same function, one pass fewer per layer).
// --output DIR writes confusion_<split>.csv as `afinar train` does.
// Images that cannot be decoded are reported on stderr, skipped and counted ("skipped").
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "afinar/data/dataset.h"
#include "afinar/data/image_source.h"
#include "afinar/io/json.h"
#include "afinar/io/model_file.h"
#include "afinar/train/epoch.h"
#include "afinar/train/recipe.h"
#include "afinar/train/run_log.h"
#include "command.h"
#include "inference_flags.h"

namespace afinar::cli {

namespace {

namespace fs = std::filesystem;
using io::json_number;
using io::json_string;

// The images to evaluate: one split folder of a dataset root, or a whole folder of classes.
struct EvalData {
  std::string split;  // "test", "val", "train" or "all"
  data::ImageFolder folder;
};

// `split` (empty: test, else val) of a root with split folders; the whole root otherwise.
EvalData open_eval_data(const std::string& dir, const std::string& split) {
  const fs::path root(data::expand_user(dir));
  AFN_CHECK(fs::is_directory(root), "eval: no folder ", dir,
            "; --data-dir takes an ImageFolder root (train/val/test folders) or a folder of "
            "class folders");
  auto folder_of = [&](const std::string& s) -> std::string {
    if (s == "val" && !fs::is_directory(root / "val") && fs::is_directory(root / "valid"))
      return "valid";
    return fs::is_directory(root / s) ? s : std::string();
  };
  const bool has_splits =
      !folder_of("train").empty() || !folder_of("val").empty() || !folder_of("test").empty();
  if (!has_splits) {
    AFN_CHECK(split.empty(), "eval: ", dir, " has no train/val/test folders, so --split ", split,
              " does not apply; leave it out to evaluate every image of its class folders");
    return {"all", data::ImageFolder::open(dir)};
  }
  std::string name = split;
  if (name.empty()) name = !folder_of("test").empty() ? "test" : "val";
  const std::string sub = folder_of(name);
  AFN_CHECK(!sub.empty(), "eval: ", dir, " has no ", name, " folder",
            split.empty() ? "; pick the split to evaluate with --split train" : "");
  return {name, data::ImageFolder::open(data::join_path(dir, sub))};
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// The folder's classes are the model's: the same names in the same order when the file has
// names, else as many classes. Anything else would score predictions against the wrong labels.
void check_classes(const data::ImageFolder& folder, const io::WeightsMeta& meta,
                   const std::string& weights) {
  const std::vector<std::string>& have = folder.classes();
  if (meta.class_names.empty()) {
    AFN_CHECK(folder.num_classes() == meta.num_classes, "eval: ", folder.root(), " has ",
              folder.num_classes(), " class folders but ", weights, " classifies ",
              meta.num_classes, " classes");
    return;
  }
  if (have == meta.class_names) return;
  std::vector<std::string> missing, extra;
  for (const std::string& c : meta.class_names)
    if (std::find(have.begin(), have.end(), c) == have.end()) missing.push_back(c);
  for (const std::string& c : have)
    if (std::find(meta.class_names.begin(), meta.class_names.end(), c) == meta.class_names.end())
      extra.push_back(c);
  std::string what;
  if (!missing.empty()) what += "no folder for " + quoted_list(missing);
  if (!extra.empty()) what += (what.empty() ? "" : "; ") + ("unknown " + quoted_list(extra));
  if (what.empty()) what = "the classes come in another order";
  AFN_FAIL("eval: the class folders of ", folder.root(), " are not the classes of ", weights, " (",
           what,
           "); name the folders as the weights file's classes: ", quoted_list(meta.class_names));
}

int64_t correct_of(const train::ConfusionMatrix& m) {
  int64_t n = 0;
  for (int64_t c = 0; c < m.num_classes(); ++c) n += m.at(c, c);
  return n;
}

class EvalCommand : public Command {
 public:
  const char* name() const override { return "eval"; }
  const char* description() const override {
    return "Evaluate a weights file on a dataset split or folder: metrics and confusion matrix";
  }
  void setup(CLI::App& app) override {
    app.add_option("--weights", weights_, "afinar weights file (afinar import / train)")
        ->required();
    app.add_option("--data-dir", data_dir_,
                   "ImageFolder root (train/val/test folders) or a folder of class folders")
        ->required();
    app.add_option("--split", split_,
                   "Which folder of a root with split folders (default: test, else val)")
        ->check(CLI::IsMember({"test", "val", "train"}));
    app.add_option("-b,--batch-size", batch_size_, "Batch size")->capture_default_str();
    app.add_option("-j,--workers", workers_, "Data loading threads")->capture_default_str();
    app.add_flag("--tta", tta_, "Average the logits of each image and of its horizontal flip");
    flags_.add_to(app);
    app.add_flag("--json", json_, "Print one JSON object instead of the tables");
    app.add_option("--output", output_, "Write confusion_<split>.csv into this folder");
  }

  int run() override {
    AFN_CHECK(fs::is_regular_file(weights_), "eval: no weights file ", weights_,
              "; give an afinar weights file (afinar import / afinar train write them)");
    AFN_CHECK(batch_size_ >= 1, "eval: --batch-size must be >= 1, got ", batch_size_);
    AFN_CHECK(workers_ >= 0 && workers_ <= train::kMaxWorkers, "eval: --workers must be in [0, ",
              train::kMaxWorkers, "], got ", workers_);
    const Device device(flags_.device);
    check_device_available(device);
    const io::Weights w = io::load_weights(weights_);
    const EvalData d = open_eval_data(data_dir_, split_);
    check_classes(d.folder, w.meta, weights_);
    names_ = w.meta.class_names.empty() ? d.folder.classes() : w.meta.class_names;
    arch_ = w.meta.arch;

    nn::ModulePtr model = io::load_model(w);
    flags_.prepare(*model, device);
    const io::Preprocessing& pp = w.meta.preprocessing;
    data::DataLoader loader(d.folder.size(),
                            data::image_source(d.folder.samples(), data::eval_transform(pp)),
                            {.batch_size = batch_size_, .num_workers = workers_, .device = device});
    loader.start_epoch(0);
    const train::EpochStats s =
        train::evaluate(*model, loader, w.meta.num_classes,
                        {.log_interval = 10,
                         .tta = tta_,
                         .amp = flags_.amp,
                         .amp_dtype = flags_.autocast_dtype(),
                         .channels_last = flags_.channels_last},
                        isatty(STDERR_FILENO) ? progress_line : train::ProgressFn());
    if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
    const int64_t skipped = loader.stats().skipped;

    if (!output_.empty()) {
      fs::create_directories(output_);
      train::write_confusion_csv(output_ + "/confusion_" + d.split + ".csv", s.confusion, names_);
    }
    if (json_)
      print_json(d, s, skipped);
    else
      print_text(d, s, skipped);
    return 0;
  }

 private:
  static void progress_line(const train::Progress& p) {
    std::fprintf(stderr, "\reval %ld/%ld batches, %ld images, %.1f s", long(p.step), long(p.steps),
                 long(p.samples), p.seconds);
  }

  void print_text(const EvalData& d, const train::EpochStats& s, int64_t skipped) const {
    const train::ConfusionMatrix& m = s.confusion;
    std::printf("weights   %s (%s, %ld classes)\n", weights_.c_str(), arch_.c_str(),
                long(m.num_classes()));
    std::printf("data      %s: %ld images (%s)", d.folder.root().c_str(), long(s.samples),
                d.split.c_str());
    if (skipped) std::printf(", %ld unreadable skipped", long(skipped));
    std::printf("\n");
    if (tta_) std::printf("tta       mean of the logits of each image and its horizontal flip\n");
    if (flags_.amp) std::printf("amp       bf16 mixed precision (autocast)\n");
    if (flags_.fold_bn) std::printf("fold-bn   batch norms folded into the convolutions\n");
    std::printf("loss      %.4f\n", s.loss);
    std::printf("accuracy  %.4f (%ld/%ld)\n", s.accuracy, long(correct_of(m)), long(m.total()));
    if (!std::isnan(s.top5)) std::printf("top-5     %.4f\n", s.top5);
    std::printf("macro     precision %.4f  recall %.4f  F1 %.4f\n\n", m.macro_precision(),
                m.macro_recall(), m.macro_f1());

    int width = 5;  // "class"
    for (const std::string& n : names_) width = std::max(width, int(n.size()));
    std::printf("%-*s  precision  recall      F1  support\n", width, "class");
    const std::vector<train::ClassScores> per = m.per_class();
    for (size_t c = 0; c < per.size(); ++c)
      std::printf("%-*s  %9.4f  %6.4f  %6.4f  %7ld\n", width, names_[c].c_str(), per[c].precision,
                  per[c].recall, per[c].f1, long(per[c].support));
    print_confusion(m, width);
  }

  // Rows: true class; columns: predicted, each as wide as its name or its largest count.
  void print_confusion(const train::ConfusionMatrix& m, int width) const {
    const int64_t C = m.num_classes();
    std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n");
    if (C > kMaxPrintedClasses) {
      std::printf("  %ld classes: too wide to print; --output writes it as CSV\n", long(C));
      return;
    }
    std::vector<int> col(size_t(C), 1);
    for (int64_t p = 0; p < C; ++p) {
      col[size_t(p)] = int(names_[size_t(p)].size());
      for (int64_t t = 0; t < C; ++t)
        col[size_t(p)] = std::max(col[size_t(p)], int(std::to_string(m.at(t, p)).size()));
    }
    std::printf("%-*s", width, "");
    for (int64_t p = 0; p < C; ++p) std::printf("  %*s", col[size_t(p)], names_[size_t(p)].c_str());
    std::printf("\n");
    for (int64_t t = 0; t < C; ++t) {
      std::printf("%-*s", width, names_[size_t(t)].c_str());
      for (int64_t p = 0; p < C; ++p) std::printf("  %*ld", col[size_t(p)], long(m.at(t, p)));
      std::printf("\n");
    }
  }

  void print_json(const EvalData& d, const train::EpochStats& s, int64_t skipped) const {
    const train::ConfusionMatrix& m = s.confusion;
    std::string out =
        "{\"weights\": " + json_string(weights_) + ", \"data\": " + json_string(d.folder.root()) +
        ", \"split\": " + json_string(d.split) + ", \"images\": " + std::to_string(s.samples) +
        ", \"skipped\": " + std::to_string(skipped) + ", \"tta\": " + (tta_ ? "true" : "false") +
        ", \"amp\": " + (flags_.amp ? "true" : "false") +
        ", \"fold_bn\": " + (flags_.fold_bn ? "true" : "false") +
        ", \"loss\": " + json_number(s.loss) + ", \"accuracy\": " + json_number(s.accuracy) +
        ", \"top5\": " + json_number(s.top5) +
        ", \"precision_macro\": " + json_number(m.macro_precision()) +
        ", \"recall_macro\": " + json_number(m.macro_recall()) +
        ", \"f1_macro\": " + json_number(m.macro_f1()) + ", \"classes\": [";
    for (size_t c = 0; c < names_.size(); ++c) out += (c ? ", " : "") + json_string(names_[c]);
    out += "], \"per_class\": [";
    const std::vector<train::ClassScores> per = m.per_class();
    for (size_t c = 0; c < per.size(); ++c) {
      out += (c ? ", " : "") + std::string("{\"class\": ") + json_string(names_[c]) +
             ", \"precision\": " + json_number(per[c].precision) +
             ", \"recall\": " + json_number(per[c].recall) + ", \"f1\": " + json_number(per[c].f1) +
             ", \"support\": " + std::to_string(per[c].support) + "}";
    }
    out += "], \"confusion\": [";
    for (int64_t t = 0; t < m.num_classes(); ++t) {
      out += t ? ", [" : "[";
      for (int64_t p = 0; p < m.num_classes(); ++p)
        out += (p ? ", " : "") + std::to_string(m.at(t, p));
      out += "]";
    }
    std::printf("%s]}\n", out.c_str());
  }

  static constexpr int64_t kMaxPrintedClasses = 50;  // wider matrices go to --output's CSV

  std::string weights_, data_dir_, split_, output_, arch_;
  int64_t batch_size_ = 64;
  int workers_ = 2;
  bool tta_ = false, json_ = false;
  InferenceFlags flags_;
  std::vector<std::string> names_;  // the class names printed: the file's, else the folders'
};

}  // namespace

AFN_CLI_COMMAND(EvalCommand);

}  // namespace afinar::cli
