// The built-in transfer-learning demo (`afinar demo`, the README's first command): seed 001's
// experiment on real data that Debian ships (dataset-fashion-mnist).
//
//   1. Fashion-MNIST is exported as two ImageFolders of PNGs (read as RGB):
//        source  classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat), the demo's "ImageNet"
//        target  classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), few images per class
//      Train and validation images come from the train file, target test images from t10k; the
//      two tasks share no class.
//   2. A ResNet18 is pre-trained on the source task; its best weights are the "ImageNet weights".
//   3. On the target task four strategies get the same budget of epochs:
//        scratch     random initialisation, everything trains (SGD 1e-2, momentum 0.9)
//        frozen      pre-trained backbone frozen, a new head trains (feature extraction)
//        finetune    pre-trained, everything trains with a lower lr
//        two_stage   frozen for half the epochs, then everything with a lower lr
//      A new head means a freshly initialised fc: the source head is not loaded.
//   4. A table (strategy, epochs, best val accuracy, test accuracy, time, trainable parameters)
//      and one HTML page comparing the strategies, with each run's full report below.
//
//   DemoResult r = run_demo({.output = "runs/demo"}, std::cout);
//   std::cout << strategy_table(r);
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace afinar::train {

struct DemoOptions {
  std::string output = "runs/demo";  // data/, one run directory per step, report.html
  std::string device = "auto";       // "auto": cuda when a GPU is visible, else cpu
  std::string fashion_mnist_dir{};   // "": data::kFashionMnistDir
  int64_t image_size = 32;           // the 28x28 images are resized to image_size*256/224 and
                                     // center-cropped, as torchvision's eval transform does
  int64_t batch_size = 32;
  int workers = 2;
  uint64_t seed = 0;
  // source task
  int64_t source_train_per_class = 2000, source_val_per_class = 100, source_epochs = 3;
  // target task: the few-images regime transfer learning is for (150 training images in all)
  int64_t target_train_per_class = 30, target_val_per_class = 30, target_test_per_class = 500;
  int64_t epochs = 8;                  // each strategy's budget
  bool amp = false;                    // every run in mixed precision (TrainConfig::amp)
  std::string amp_dtype = "bfloat16";  // or "float16" with loss scaling (TrainConfig::amp_dtype)
};

struct StrategyResult {
  std::string name, description;
  std::string run_dir;
  int64_t epochs = 0;
  double best_val_accuracy = 0, test_accuracy = 0;
  double seconds = 0;
  std::vector<int64_t> trainable;  // trainable parameters of each stage
  bool reused = false;             // an earlier demo's finished run, not trained again
};

struct DemoResult {
  std::string output;
  std::string device;
  StrategyResult source;                   // the pre-training run
  std::vector<StrategyResult> strategies;  // scratch, frozen, finetune, two_stage
  double seconds = 0;                      // the whole demo, export included
};

// Exports the data (once: an existing export with the same counts is reused), runs the five
// trainings, writes output/results.csv and output/report.html. Progress lines go to `log`.
DemoResult run_demo(const DemoOptions& options, std::ostream& log);

// The strategy table as aligned text, one row per strategy.
std::string strategy_table(const DemoResult& result);

// "2,565 -> 11,179,077": the trainable parameters of each stage.
std::string trainable_text(const std::vector<int64_t>& counts, const std::string& arrow = " -> ");

// output/report.html: the strategies compared (table, validation curves, test accuracy), then
// each run's report (train/report.h) in a collapsible section. Returns the path.
std::string write_demo_report(const DemoResult& result, const std::string& device);

}  // namespace afinar::train
