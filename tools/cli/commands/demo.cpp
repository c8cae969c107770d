// `afinar demo`: the built-in transfer-learning demo (train/demo.h) — pre-train a ResNet18 on
// Fashion-MNIST classes 0-4, then compare four strategies on classes 5-9 with few images.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "afinar/train/demo.h"
#include "command.h"

namespace afinar::cli {

namespace {

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
