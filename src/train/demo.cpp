// The built-in demo (train/demo.h): the Fashion-MNIST export, the source pre-training and the four
// target strategies, each an ordinary run_training with its own output directory.
#include "afinar/train/demo.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "afinar/core/check.h"
#include "afinar/core/device.h"
#include "afinar/data/fashion_mnist.h"
#include "afinar/io/atomic_file.h"
#include "afinar/nn/summary.h"
#include "afinar/train/recipe.h"
#include "afinar/train/run_files.h"
#include "afinar/train/trainer.h"

namespace afinar::train {

namespace {

namespace fs = std::filesystem;

// Fashion-MNIST labels of the two tasks: [first, last].
constexpr int64_t kSourceFirst = 0, kSourceLast = 4, kTargetFirst = 5, kTargetLast = 9;

// The images with labels in [first, last]: of each class, `count` after skipping its first
// `skip` (in IDX order), so that disjoint ranges give disjoint splits of one file.
data::MnistData select(const data::MnistData& d, int64_t first, int64_t last, int64_t skip,
                       int64_t count) {
  const int64_t n = d.images.size(0), pixels = d.images.size(1) * d.images.size(2);
  const auto* labels = d.labels.data_ptr<int64_t>();
  const auto* images = d.images.data_ptr<uint8_t>();
  std::vector<int64_t> seen(size_t(last - first + 1), 0), chosen;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < first || labels[i] > last) continue;
    const int64_t k = seen[size_t(labels[i] - first)]++;
    if (k >= skip && k < skip + count) chosen.push_back(i);
  }
  for (size_t c = 0; c < seen.size(); ++c)
    AFN_CHECK(seen[c] >= skip + count, "demo: Fashion-MNIST has ", seen[c], " images of class ",
              first + int64_t(c), ", fewer than the ", skip + count, " the demo needs");
  data::MnistData out{
      empty({int64_t(chosen.size()), d.images.size(1), d.images.size(2)}, DType::U8),
      empty({int64_t(chosen.size())}, DType::I64)};
  for (size_t j = 0; j < chosen.size(); ++j) {
    std::copy_n(images + chosen[j] * pixels, pixels, out.images.data_ptr<uint8_t>() + j * pixels);
    out.labels.data_ptr<int64_t>()[j] = labels[chosen[j]];
  }
  return out;
}

// Whether the file exists and its bytes are `text` (the marks of what an earlier demo wrote).
bool holds_exactly(const fs::path& path, const std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str() == text;
}

// Writes one split folder unless a previous demo wrote it with the same images (its stamp).
void export_split(const data::MnistData& all, int64_t first, int64_t last, int64_t skip,
                  int64_t count, const fs::path& dir, std::ostream& log) {
  const std::string stamp = detail::concat("fashion-mnist labels ", first, "-", last,
                                           ", per class ", skip, "+", count, "\n");
  const fs::path stamp_file = dir / ".afinar-demo";
  if (holds_exactly(stamp_file, stamp)) return;
  fs::remove_all(dir);
  const int64_t written = data::export_image_folder(select(all, first, last, skip, count),
                                                    data::fashion_mnist_classes(), dir.string());
  std::ofstream(stamp_file) << stamp;
  log << "exported " << written << " images to " << dir.string() << "\n";
}

struct DataDirs {
  std::string source, target;
};

DataDirs export_data(const DemoOptions& o, std::ostream& log) {
  const std::string src =
      o.fashion_mnist_dir.empty() ? data::kFashionMnistDir : o.fashion_mnist_dir;
  const fs::path root = fs::path(o.output) / "data";
  const data::MnistData train = data::load_mnist(src, data::MnistSplit::Train);
  const data::MnistData test = data::load_mnist(src, data::MnistSplit::Test);
  const fs::path source = root / "source", target = root / "target";
  export_split(train, kSourceFirst, kSourceLast, 0, o.source_train_per_class, source / "train",
               log);
  export_split(train, kSourceFirst, kSourceLast, o.source_train_per_class, o.source_val_per_class,
               source / "val", log);
  export_split(train, kTargetFirst, kTargetLast, 0, o.target_train_per_class, target / "train",
               log);
  export_split(train, kTargetFirst, kTargetLast, o.target_train_per_class, o.target_val_per_class,
               target / "val", log);
  export_split(test, kTargetFirst, kTargetLast, 0, o.target_test_per_class, target / "test", log);
  return {source.string(), target.string()};
}

StageConfig sgd_stage(int64_t epochs, double lr) {
  StageConfig s;
  s.epochs = epochs;
  s.optimizer = {"sgd", {{"lr", lr}, {"momentum", 0.9}}};
  return s;
}

StageConfig adam_stage(int64_t epochs, double lr) {
  StageConfig s;
  s.epochs = epochs;
  s.optimizer = {"adam", {{"lr", lr}}};
  return s;
}

// What every demo run shares: seed 001 trains without augmentation (Resize, then the network).
TrainConfig base_config(const DemoOptions& o, const std::string& data_dir,
                        const std::string& device, const std::string& run) {
  TrainConfig c;
  c.data_dir = data_dir;
  c.image_size = o.image_size;
  c.batch_size = o.batch_size;
  c.workers = o.workers;
  c.augment = false;
  c.model = "resnet18";
  c.seed = o.seed;
  c.device = device;
  c.amp = o.amp;
  c.amp_dtype = o.amp_dtype;
  c.output = (fs::path(o.output) / run).string();
  c.log_interval = 1000;  // one progress line per epoch and split
  return c;
}

struct Strategy {
  const char* name;
  const char* description;
  TrainConfig config;
};

// The four target runs; `pretrained` is the source run's best.h5.
std::vector<Strategy> strategies(const DemoOptions& o, const std::string& data_dir,
                                 const std::string& device, const std::string& pretrained) {
  const int64_t e = o.epochs, first = std::max<int64_t>(e / 2, 1);
  auto config = [&](const char* run, bool transfer, std::vector<StageConfig> stages) {
    TrainConfig c = base_config(o, data_dir, device, run);
    if (transfer) {
      c.weights = pretrained;
      c.weights_exclude = {"fc.*"};  // a new head for the new classes
    }
    c.stages = std::move(stages);
    return c;
  };
  StageConfig head_only = adam_stage(e, 1e-2);  // feature extraction: only the new fc learns
  head_only.freeze = {"*"};
  head_only.unfreeze = {"fc.*"};
  StageConfig everything = adam_stage(e, 1e-4);  // seed 001's differential learning rates
  everything.param_groups = {{{"fc.*"}, {{"lr", 1e-3}}}};
  StageConfig warm = head_only;
  warm.epochs = first;
  StageConfig all = adam_stage(e - first, 1e-4);
  all.unfreeze = {"*"};
  std::vector<Strategy> out;
  out.push_back({"scratch", "random initialisation, everything trains (SGD 1e-2, momentum 0.9)",
                 config("scratch", false, {sgd_stage(e, 1e-2)})});
  out.push_back({"frozen", "pre-trained backbone frozen, the new head trains (Adam 1e-2)",
                 config("frozen", true, {head_only})});
  out.push_back({"finetune", "pre-trained, everything trains (Adam: head 1e-3, the rest 1e-4)",
                 config("finetune", true, {everything})});
  if (e >= 2)
    out.push_back({"two_stage", "the head alone (Adam 1e-2), then everything (Adam 1e-4)",
                   config("two_stage", true, {warm, all})});
  return out;
}

// Trainable parameters of each stage, from the run's "stage" events.
std::vector<int64_t> stage_trainable(const std::string& run_dir) {
  std::vector<int64_t> out;
  for (const JsonFields& e : read_events(run_dir + "/events.jsonl").events)
    if (e.count("event") && e.at("event") == "stage")
      out.push_back(int64_t(json_field_number(e, "trainable")));
  return out;
}

StrategyResult run_one(const char* name, const char* description, const TrainConfig& c,
                       std::ostream& log) {
  log << "\n== " << name << ": " << description << "\n";
  const auto start = std::chrono::steady_clock::now();
  const TrainResult r = run_training(c, log);
  StrategyResult s;
  s.name = name;
  s.description = description;
  s.run_dir = c.output;
  for (const StageConfig& stage : c.stages) s.epochs += stage.epochs;
  s.best_val_accuracy = r.best.accuracy;
  s.test_accuracy = r.has_test ? r.test.accuracy : std::nan("");
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.trainable = stage_trainable(c.output);
  return s;
}

void write_results_csv(const DemoResult& r) {
  io::AtomicFile out(r.output + "/results.csv");
  {
    std::ofstream f(out.temp_path());
    f << "strategy,epochs,best_val_acc,test_acc,seconds,trainable\n";
    for (const StrategyResult& s : r.strategies) {
      std::string trainable;
      for (int64_t n : s.trainable) {
        if (!trainable.empty()) trainable += ";";
        trainable += std::to_string(n);
      }
      f << s.name << "," << s.epochs << "," << s.best_val_accuracy << "," << s.test_accuracy << ","
        << s.seconds << "," << trainable << "\n";
    }
    AFN_CHECK(f.good(), "demo: cannot write ", out.temp_path());
  }
  out.commit();
}

constexpr const char* kSourceDescription = "pre-training on classes 0-4 (the demo's ImageNet)";

// The source run of an earlier demo when it finished with exactly these settings (its resolved
// recipe is the one `c` would write): pre-training is most of the demo's time, and a rerun that
// changes only the target settings need not repeat it.
std::optional<StrategyResult> finished_run(const TrainConfig& c) {
  const fs::path dir(c.output);
  if (!fs::exists(dir / "best.h5") || !holds_exactly(dir / "recipe.toml", to_toml(c)))
    return std::nullopt;
  for (const JsonFields& e : read_events((dir / "events.jsonl").string()).events) {
    if (!e.count("event") || e.at("event") != "end") continue;
    StrategyResult s;
    s.name = "source";
    s.description = kSourceDescription;
    s.run_dir = c.output;
    for (const StageConfig& stage : c.stages) s.epochs += stage.epochs;
    s.best_val_accuracy = json_field_number(e, "best_acc");
    s.test_accuracy = std::nan("");
    s.trainable = stage_trainable(c.output);
    s.reused = true;
    return s;
  }
  return std::nullopt;
}

}  // namespace

std::string trainable_text(const std::vector<int64_t>& counts, const std::string& arrow) {
  std::string out;
  for (int64_t n : counts) {
    if (!out.empty()) out += arrow;
    out += nn::with_commas(n);
  }
  return out;
}

DemoResult run_demo(const DemoOptions& o, std::ostream& log) {
  AFN_CHECK(o.epochs >= 1 && o.source_epochs >= 1, "demo: epochs must be >= 1");
  const auto start = std::chrono::steady_clock::now();
  DemoResult result;
  result.output = o.output;
  result.device = o.device == "auto" ? (cuda_device_count() > 0 ? "cuda" : "cpu") : o.device;
  check_device_available(Device(result.device));
  fs::create_directories(o.output);
  const DataDirs dirs = export_data(o, log);

  TrainConfig source = base_config(o, dirs.source, result.device, "source");
  source.stages = {sgd_stage(o.source_epochs, 1e-2)};
  result.source = finished_run(source).value_or(StrategyResult{});
  if (result.source.run_dir.empty())
    result.source = run_one("source", kSourceDescription, source, log);
  else
    log << "pre-training: reusing " << source.output << " (same settings, finished)\n";
  const std::string pretrained = result.source.run_dir + "/best.h5";
  for (const Strategy& s : strategies(o, dirs.target, result.device, pretrained))
    result.strategies.push_back(run_one(s.name, s.description, s.config, log));

  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_results_csv(result);
  return result;
}

std::string strategy_table(const DemoResult& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-10s %6s %13s %9s %9s  %s\n", "strategy", "epochs",
                "best val acc", "test acc", "time", "trainable params");
  out += line;
  for (const StrategyResult& s : r.strategies) {
    std::snprintf(line, sizeof line, "%-10s %6ld %13.4f %9.4f %7.1f s  %s\n", s.name.c_str(),
                  long(s.epochs), s.best_val_accuracy, s.test_accuracy, s.seconds,
                  trainable_text(s.trainable).c_str());
    out += line;
  }
  return out;
}

}  // namespace afinar::train
