// `afinar demo`: the built-in transfer-learning demo (train/demo.h) — pre-train a ResNet18 on
// Fashion-MNIST classes 0-4, then compare four strategies on classes 5-9 with few images.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "afinar/core/device.h"
#include "afinar/train/demo.h"
#include "afinar/train/recipe.h"
#include "command.h"

namespace afinar::cli {

namespace {

namespace fs = std::filesystem;

// Fashion-MNIST's images per class: 6000 in the train file (the source task's training and
// validation images, the target task's training and validation images), 1000 in the t10k file.
constexpr int64_t kTrainPerClass = 6000, kTestPerClass = 1000;

// Every option in range before the export and the pre-training start (minutes of work).
void check_options(const train::DemoOptions& o) {
  AFN_CHECK(o.epochs >= 1 && o.source_epochs >= 1,
            "demo: --epochs and --source-epochs must be >= 1, got ", o.epochs, " and ",
            o.source_epochs);
  AFN_CHECK(o.image_size >= 1 && o.image_size <= train::kMaxImageSize,
            "demo: --image-size must be in [1, ", train::kMaxImageSize, "], got ", o.image_size);
  AFN_CHECK(o.batch_size >= 1, "demo: --batch-size must be >= 1, got ", o.batch_size);
  AFN_CHECK(o.workers >= 0 && o.workers <= train::kMaxWorkers, "demo: --workers must be in [0, ",
            train::kMaxWorkers, "], got ", o.workers);
  AFN_CHECK(o.source_train_per_class >= 1 && o.source_val_per_class >= 1 &&
                o.source_train_per_class + o.source_val_per_class <= kTrainPerClass,
            "demo: --source-per-class must be in [1, ", kTrainPerClass - o.source_val_per_class,
            "] (Fashion-MNIST has ", kTrainPerClass, " training images per class, ",
            o.source_val_per_class, " of them for validation), got ", o.source_train_per_class);
  AFN_CHECK(o.target_train_per_class >= 1 && o.target_val_per_class >= 1 &&
                o.target_train_per_class + o.target_val_per_class <= kTrainPerClass,
            "demo: --target-per-class and --target-val-per-class must be >= 1 and add up to at "
            "most ",
            kTrainPerClass, " (Fashion-MNIST's training images per class), got ",
            o.target_train_per_class, " and ", o.target_val_per_class);
  AFN_CHECK(o.target_test_per_class >= 1 && o.target_test_per_class <= kTestPerClass,
            "demo: --target-test-per-class must be in [1, ", kTestPerClass,
            "] (Fashion-MNIST's test images per class), got ", o.target_test_per_class);
  if (o.device != "auto") check_device_available(Device(o.device));
  std::error_code ec;
  AFN_CHECK(o.fashion_mnist_dir.empty() || fs::is_directory(o.fashion_mnist_dir, ec),
            "demo: --fashion-mnist-dir ", o.fashion_mnist_dir,
            " is not a folder; give the folder of the Fashion-MNIST IDX files, or leave it out "
            "for Debian's dataset-fashion-mnist");
  AFN_CHECK(!fs::exists(o.output, ec) || fs::is_directory(o.output, ec), "demo: --output ",
            o.output, " exists and is not a folder; give a folder for the demo's data and runs");
}

class DemoCommand : public Command {
 public:
  const char* name() const override { return "demo"; }
  const char* description() const override {
    return "Transfer learning on Fashion-MNIST: pre-train, then compare four strategies";
  }
  void setup(CLI::App& app) override {
    train::DemoOptions& o = options_;
    app.add_option("--output", o.output, "Output directory (data, runs, report.html)")
        ->capture_default_str();
    app.add_option("--device", o.device, "auto (cuda when present), cpu or cuda[:N]")
        ->capture_default_str();
    app.add_option("--fashion-mnist-dir", o.fashion_mnist_dir,
                   "Folder of the Fashion-MNIST IDX files (default: Debian's "
                   "dataset-fashion-mnist, /usr/share/datasets/fashion-mnist)");
    app.add_option("--epochs", o.epochs, "Epochs of each target strategy")->capture_default_str();
    app.add_option("--source-epochs", o.source_epochs, "Epochs of the pre-training")
        ->capture_default_str();
    app.add_option("--image-size", o.image_size, "Crop size fed to the model")
        ->capture_default_str();
    app.add_option("-b,--batch-size", o.batch_size, "Batch size")->capture_default_str();
    app.add_option("-j,--workers", o.workers, "Data loading threads")->capture_default_str();
    app.add_option("--seed", o.seed, "Seed of initialisation and shuffling")->capture_default_str();
    app.add_flag("--amp", o.amp, "Every run in mixed precision (autocast)");
    app.add_option("--amp-dtype", o.amp_dtype, "With --amp: bfloat16, or float16 with loss scaling")
        ->check(CLI::IsMember({"bfloat16", "float16"}))
        ->capture_default_str();
    app.add_option("--source-per-class", o.source_train_per_class,
                   "Pre-training images per class (classes 0-4)")
        ->capture_default_str();
    app.add_option("--target-per-class", o.target_train_per_class,
                   "Training images per class of the target task (classes 5-9)")
        ->capture_default_str();
    app.add_option("--target-val-per-class", o.target_val_per_class,
                   "Validation images per class of the target task")
        ->capture_default_str();
    app.add_option("--target-test-per-class", o.target_test_per_class,
                   "Test images per class of the target task (from the t10k file)")
        ->capture_default_str();
  }

  int run() override {
    check_options(options_);
    const train::DemoResult r = train::run_demo(options_, std::cout);
    std::printf(
        "\nTransfer learning on Fashion-MNIST classes 5-9 (%ld training images per "
        "class), ResNet18 pre-trained on classes 0-4, device %s:\n\n%s\n",
        long(options_.target_train_per_class), r.device.c_str(), train::strategy_table(r).c_str());
    const std::string pretraining = r.source.reused
                                        ? std::string("reused from an earlier demo")
                                        : std::to_string(int(std::lround(r.source.seconds))) + " s";
    std::printf("demo: %.1f s in all (pre-training %s); report: %s\n", r.seconds,
                pretraining.c_str(), train::write_demo_report(r, r.device).c_str());
    return 0;
  }

 private:
  train::DemoOptions options_;
};

}  // namespace

AFN_CLI_COMMAND(DemoCommand);

}  // namespace afinar::cli
