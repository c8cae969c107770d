// The bad-input sweep (issue 9 item 6, issue 7 "Bad input"): every subcommand of the real
// executable, each of its flags, and every recipe key (train/recipe.h, README "Recipes"), given
// missing files, wrong types, out-of-range values and hostile ones: folders where files belong,
// /dev/zero, files that are not HDF5 / images / TOML, empty files, names with a newline, a weights
// file whose arch is not that of its tensors, folders without images. Each case must exit with 1
// (a runtime error: exactly one stderr line, "afinar: error: ...", naming what is wrong) or 2 (a
// usage error: CLI11's message and its "Run with --help" line), never with a signal or a hang.
// No case trains: values are checked before the first step (and runs that would start use 16x16
// images, batches of 2 and --max-steps 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "afinar/core/rng.h"
#include "afinar/core/tensor.h"
#include "afinar/data/decode.h"
#include "afinar/io/weights.h"
#include "afinar/nn/init.h"
#include "afinar/nn/models.h"
#include "afinar/train/html.h"
#include "testing/cli.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

namespace fs = std::filesystem;

// A name with a newline: an error message that repeats it spans two lines however it is written,
// so the one-line check counts lines with this name joined ("new line").
const std::string kNewline = "new\nline";

struct Case {
  std::string args;  // after `afinar`, in the fixture folder; shell-quoted where needed
  int code;          // 1: runtime error, 2: usage error
  std::string says;  // a part of the message (what is wrong); empty: any
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// root/<class>/<i>.png, 16x16 images of one grey level per class and image.
void write_classes(const std::string& root, const std::vector<std::string>& classes) {
  for (size_t c = 0; c < classes.size(); ++c) {
    fs::create_directories(root + "/" + classes[c]);
    for (int i = 0; i < 2; ++i) {
      data::Image img(16, 16, 3);
      std::fill(img.data.begin(), img.data.end(), uint8_t(60 * c + 20 * i + 10));
      const std::vector<uint8_t> png = train::encode_png(img);
      write_file(root + "/" + classes[c] + "/" + std::to_string(i) + ".png",
                 std::string(png.begin(), png.end()));
    }
  }
}

// The files every case reads, made once: a resnet18 weights file for classes a, b (w.h5), the
// same tensors labelled resnet34 (w34.h5), ImageFolders (data: a, b; other: c, d; split:
// train/val of a, b), a folder without class folders (nodata), class folders without images
// (noimages), an empty file, random bytes, a text file and an empty file named with a newline.
class Fixture {
 public:
  Fixture() {
    const std::string d = dir_.path();
    io::WeightsMeta meta;
    meta.arch = "resnet18";
    meta.num_classes = 2;
    meta.class_names = {"a", "b"};
    meta.preprocessing.resize = 18;
    meta.preprocessing.crop = 16;
    nn::ModulePtr model = [] {
      nn::init::SkipInitGuard zeros;  // the cases never get to the values
      return nn::create_model("resnet18", 2);
    }();
    io::save_weights(d + "/w.h5", model->state_dict(), meta);
    meta.arch = "resnet34";
    io::save_weights(d + "/w34.h5", model->state_dict(), meta);
    write_classes(d + "/data", {"a", "b"});
    write_classes(d + "/other", {"c", "d"});
    write_classes(d + "/split/train", {"a", "b"});
    write_classes(d + "/split/val", {"a", "b"});
    fs::create_directories(d + "/nodata");
    fs::create_directories(d + "/noimages/a");
    fs::create_directories(d + "/noimages/b");
    write_file(d + "/noimages/a/notes.txt", "not an image\n");
    write_file(d + "/empty", "");
    write_file(d + "/" + kNewline + ".h5", "");
    write_file(d + "/text.txt", "hello\n");
    Generator gen(9);
    std::string junk;
    for (float v : uniform({1000}, 0, 256, DType::F32, gen).to_vector<float>())
      junk.push_back(char(int(v)));
    write_file(d + "/junk.bin", junk);
  }
  const std::string& path() const { return dir_.path(); }

 private:
  testing::TempDir dir_;
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

// `afinar <args>` in the fixture folder, stdout discarded; its exit code and stderr.
testing::Result run_case(const std::string& args) {
  return testing::run("{ cd '" + fixture().path() + "' && timeout 60 " +
                      std::string(AFINAR_CLI_PATH) + " " + args + " 2>&1 >/dev/null; }");
}

void expect_clean_failure(const Case& c) {
  const testing::Result r = run_case(c.args);
  std::string err = r.output;
  for (size_t at; (at = err.find(kNewline)) != std::string::npos;) err[at + 3] = ' ';
  SCOPED_TRACE("afinar " + c.args + "\n" + r.output);
  // >= 128 or -1: a signal (timeout's 124: a hang).
  EXPECT_EQ(r.code, c.code);
  const auto lines = std::count(err.begin(), err.end(), '\n');
  if (c.code == 1) {
    EXPECT_TRUE(err.starts_with("afinar: error: "));
    EXPECT_EQ(lines, 1);  // one line, and no "check failed" / source location
  } else {
    EXPECT_FALSE(err.starts_with("afinar: error: "));
    EXPECT_NE(err.find("Run with --help for more information."), std::string::npos);
    EXPECT_EQ(lines, 2);
  }
  if (!c.says.empty()) {
    EXPECT_NE(err.find(c.says), std::string::npos) << "expected: " << c.says;
  }
}

void sweep(const std::vector<Case>& cases) {
  for (const Case& c : cases) expect_clean_failure(c);
}

// A quoted shell word holding a newline (a file that does not exist unless `ext` is ".h5").
std::string newline_name(const std::string& ext) {
  return "'" + kNewline + ext + "'";
}

TEST(BadInputCli, TopLevelDevicesSummary) {
  sweep({
      {"", 2, "subcommand"},
      {"frobnicate", 2, ""},
      {"--bogus", 2, ""},
      {"devices --bogus", 2, "--bogus"},
      {"devices extra", 2, "extra"},
      {"summary", 2, "--arch"},
      {"summary --arch nope", 1, "unknown architecture 'nope'"},
      {"summary --arch resnet18 --num-classes abc", 2, "--num-classes"},
      {"summary --arch resnet18 --num-classes 0", 1, "num_classes"},
      {"summary --arch resnet18 --num-classes -5", 1, "num_classes"},
      {"summary --arch resnet18 --num-classes 1000000000000", 1, "out of memory"},
      {"summary --arch resnet18 --head weird", 1, "head 'weird'"},
      {"summary --arch resnet18 --head mlp --head-hidden 0", 1, "hidden"},
      {"summary --arch resnet18 --head mlp --head-hidden abc", 2, "--head-hidden"},
      {"summary --arch resnet18 --head mlp --head-dropout 1.5 0.2", 1, "dropout"},
      {"summary --arch resnet18 --head mlp --head-dropout nan 0.2", 1, "dropout"},
      {"summary --arch resnet18 --head-dropout 0.5", 2, "--head-dropout"},
      {"summary --arch resnet18 --input 0,224,224", 1, "--input"},
      {"summary --arch resnet18 --input abc", 1, "--input"},
      {"summary --arch resnet18 --input 3,224", 1, "C,H,W"},
      {"summary --arch resnet18 --input 1,32,32", 1, "channels"},
      {"summary --arch resnet18 --input 3,100000,100000", 1, "out of memory"},
      {"summary --arch vgg11 --input 3,8,8", 1, "too small"},
      {"summary --arch resnet18 --device gpu", 1, "'gpu'"},
      {"summary --arch resnet18 --device cuda:99", 1, "cuda:99"},
  });
}

TEST(BadInputCli, ImportExport) {
  sweep({
      {"import", 2, "source"},
      {"import junk.bin", 2, "--output"},
      {"import missing.pth -o out.h5", 1, "missing.pth"},
      {"import empty -o out.h5", 1, "empty"},
      {"import junk.bin -o out.h5", 1, "not a torch.save file"},
      {"import text.txt -o out.h5", 1, "not a torch.save file"},
      {"import w.h5 -o out.h5", 1, "not a torch.save file"},
      {"import nodata -o out.h5", 1, "not a regular file"},
      {"import /dev/zero -o out.h5", 1, "not a regular file"},
      {"import " + newline_name(".pth") + " -o out.h5", 1, "new line.pth"},
      {"export", 2, "source"},
      {"export w.h5", 2, "--output"},
      {"export missing.h5 -o out.pth", 1, "missing.h5"},
      {"export empty -o out.pth", 1, "empty"},
      {"export junk.bin -o out.pth", 1, "not an HDF5 file"},
      {"export text.txt -o out.pth", 1, "not an HDF5 file"},
      {"export nodata -o out.pth", 1, "nodata"},
      {"export /dev/zero -o out.pth", 1, "/dev/zero"},
      {"export " + newline_name(".h5") + " -o out.pth", 1, "new line.h5"},
      {"export w.h5 -o nodata", 1, "nodata"},
      {"export w.h5 -o missingdir/out.pth", 1, "missingdir"},
  });
  EXPECT_FALSE(fs::exists(fixture().path() + "/out.pth"));  // nothing half-written
  EXPECT_FALSE(fs::exists(fixture().path() + "/out.h5"));
}

TEST(BadInputCli, ReportPreprocess) {
  const std::string pre = "preprocess data/a/0.png -o pre.h5 ";
  sweep({
      {"report", 2, "run_dir"},
      {"report missing", 1, "missing"},
      {"report empty", 1, "empty"},
      {"report nodata", 1, "metrics.csv"},
      {"report /dev/zero", 1, "/dev/zero"},
      {"report " + newline_name(""), 1, "new line"},
      {"report nodata --samples -1", 2, "--samples"},
      {"report nodata --samples abc", 2, "--samples"},
      {"report nodata --thumbnail 0", 2, "--thumbnail"},
      {"report nodata --thumbnail 100000", 2, "--thumbnail"},
      {"preprocess", 2, "image"},
      {"preprocess data/a/0.png", 2, "--output"},
      {"preprocess missing.png -o pre.h5", 2, "missing.png"},
      {"preprocess nodata -o pre.h5", 2, "nodata"},
      {"preprocess empty -o pre.h5", 1, "empty"},
      {"preprocess junk.bin -o pre.h5", 1, "not an image"},
      {"preprocess text.txt -o pre.h5", 1, "not an image"},
      {"preprocess /dev/zero -o pre.h5", 1, "/dev/zero"},
      {pre + "--resize 0", 1, "preprocess: resize must be in [1, 4096], got 0"},
      {pre + "--resize -3", 1, "resize must be in [1, 4096], got -3"},
      {pre + "--resize abc", 2, "--resize"},
      {pre + "--resize 1000000", 1, "resize must be in [1, 4096], got 1000000"},
      {pre + "--crop 0", 1, "crop must be in [1, 4096], got 0"},
      {pre + "--crop 1000000000000", 1, "crop must be in [1, 4096]"},
      {pre + "--crop-mode stretch", 1, "unknown crop mode 'stretch'"},
      {pre + "--interpolation lanczos", 1,
       "unknown interpolation 'lanczos': nearest, bilinear or bicubic"},
      {pre + "--std 0,0,0", 1, "std"},
      {pre + "--std nan,1,1", 1, "std"},
      {pre + "--mean inf,0,0", 1, "mean"},
      {pre + "--mean 1,2", 2, "--mean"},
      {pre + "--mean a,b,c", 2, "--mean"},
      {pre + "--weights missing.h5", 2, "missing.h5"},
      {pre + "--weights nodata", 2, "nodata"},
      {pre + "--weights junk.bin", 1, "junk.bin"},
      {pre + "--weights empty", 1, "empty"},
      {"preprocess data/a/0.png -o nodata", 1, "nodata"},
      {"preprocess data/a/0.png -o missingdir/pre.h5", 1, "missingdir"},
  });
  EXPECT_FALSE(fs::exists(fixture().path() + "/pre.h5"));
  for (const auto& e : fs::directory_iterator(fixture().path()))  // no temporary left behind
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(BadInputCli, Eval) {
  const std::string ev = "eval --weights w.h5 --data-dir split ";
  sweep({
      {"eval", 2, "--weights"},
      {"eval --weights w.h5", 2, "--data-dir"},
      {"eval --weights missing.h5 --data-dir split", 1, "missing.h5"},
      {"eval --weights nodata --data-dir split", 1, "nodata"},
      {"eval --weights /dev/zero --data-dir split", 1, "/dev/zero"},
      {"eval --weights junk.bin --data-dir split", 1, "junk.bin"},
      {"eval --weights empty --data-dir split", 1, "empty"},
      {"eval --weights text.txt --data-dir split", 1, "text.txt"},
      {"eval --weights " + newline_name(".h5") + " --data-dir split", 1, "new line.h5"},
      {"eval --weights w34.h5 --data-dir split", 1, "ResNet"},
      {"eval --weights w.h5 --data-dir missing", 1, "missing"},
      {"eval --weights w.h5 --data-dir empty", 1, "empty"},
      {"eval --weights w.h5 --data-dir nodata", 1, "no class folder"},
      {"eval --weights w.h5 --data-dir noimages", 1, "no valid file"},
      {"eval --weights w.h5 --data-dir other", 1, "no folder for 'a', 'b'"},
      {"eval --weights w.h5 --data-dir " + newline_name(""), 1, "new line"},
      {ev + "-b 0", 1, "--batch-size"},
      {ev + "-b -1", 1, "--batch-size"},
      {ev + "-b abc", 2, "--batch-size"},
      {ev + "-j -1", 1, "--workers"},
      {ev + "-j 100000", 1, "--workers"},
      {ev + "--split nope", 2, "--split"},
      {ev + "--split test", 1, "no test folder"},
      {ev + "--device gpu", 1, "'gpu'"},
      {ev + "--output empty", 1, "empty"},
      {ev + "--amp --amp-dtype half", 2, "--amp-dtype"},
      {ev + "--bogus", 2, "--bogus"},
  });
}

TEST(BadInputCli, PredictInspect) {
  const std::string pr = "predict --weights w.h5 ";
  const std::string in = "inspect --weights w.h5 ";
  sweep({
      {"predict", 2, ""},
      {"predict data/a/0.png", 2, "--weights"},
      {"predict --weights w.h5", 2, "images"},
      {"predict --weights missing.h5 data/a/0.png", 2, "missing.h5"},
      {"predict --weights nodata data/a/0.png", 2, "nodata"},
      {"predict --weights /dev/zero data/a/0.png", 1, "/dev/zero"},
      {"predict --weights junk.bin data/a/0.png", 1, "junk.bin"},
      {"predict --weights empty data/a/0.png", 1, "empty"},
      {"predict --weights " + newline_name(".h5") + " data/a/0.png", 1, "new line.h5"},
      {"predict --weights w34.h5 data/a/0.png", 1, "ResNet"},
      {pr + "--arch resnet34 data/a/0.png", 1, "ResNet"},
      {pr + "--arch vgg11 data/a/0.png", 1, "VGG"},
      {pr + "--arch nope data/a/0.png", 1, "unknown architecture 'nope'"},
      {pr + "--topk -1 data/a/0.png", 1, "--topk"},
      {pr + "--topk 3 data/a/0.png", 1, "--topk"},
      {pr + "--topk abc data/a/0.png", 2, "--topk"},
      {pr + "--device gpu data/a/0.png", 1, "'gpu'"},
      {pr + "missing.png", 1, "missing.png"},
      {pr + "empty", 1, "empty"},
      {pr + "junk.bin", 1, "not an image"},
      {pr + "nodata", 1, "nodata"},
      {pr + "/dev/zero", 1, "/dev/zero"},
      {pr + newline_name(".png"), 1, "new line.png"},
      {"inspect", 2, "--weights"},
      {"inspect --weights w.h5", 2, "--data-dir"},
      {"inspect --weights missing.h5 data/a/0.png", 2, "missing.h5"},
      {"inspect --weights junk.bin data/a/0.png", 1, "junk.bin"},
      {"inspect --weights /dev/zero data/a/0.png", 1, "/dev/zero"},
      {"inspect --weights w34.h5 data/a/0.png", 1, "ResNet"},
      {in + "missing.png", 1, "missing.png"},
      {in + "empty", 1, "empty"},
      {in + "nodata", 1, "nodata"},
      {in + newline_name(".png"), 1, "new line.png"},
      {in + "--data-dir missing", 1, "missing"},
      {in + "--data-dir nodata", 1, "no class folder"},
      {in + "--data-dir noimages", 1, "no valid file"},
      {in + "--data-dir other", 1, "classes"},
      {in + "--data-dir split --split test", 1, "no test images"},
      {in + "--data-dir split -b 0", 2, "--batch-size"},
      {in + "--data-dir split -b abc", 2, "--batch-size"},
      {in + "--data-dir split data/a/0.png", 2, "--data-dir"},
      {in + "--split val data/a/0.png", 2, "--data-dir"},
      {in + "--arch resnet34 data/a/0.png", 1, "ResNet"},
      {in + "--device gpu data/a/0.png", 1, "'gpu'"},
      {in + "data/a/0.png --tile 0", 2, "--tile"},
      {in + "data/a/0.png --dump nomatch", 1, "nomatch"},
      {in + "data/a/0.png --filters nomatch", 1, "nomatch"},
      {in + "data/a/0.png --dump conv1 -o empty", 1, "empty"},
  });
}

// Every option is checked before the Fashion-MNIST export and the pre-training (minutes).
TEST(BadInputCli, Demo) {
  const std::string de = "demo --output runs/demo ";
  sweep({
      {de + "--epochs 0", 1, "--epochs"},
      {de + "--epochs abc", 2, "--epochs"},
      {de + "--source-epochs -1", 1, "--source-epochs"},
      {de + "--image-size 0", 1, "--image-size"},
      {de + "--image-size 1000000000000", 1, "--image-size"},
      {de + "-b 0", 1, "--batch-size"},
      {de + "-j -1", 1, "--workers"},
      {de + "-j 100000", 1, "--workers"},
      {de + "--seed abc", 2, "--seed"},
      {de + "--source-per-class 0", 1, "--source-per-class"},
      {de + "--source-per-class 1000000", 1, "--source-per-class"},
      {de + "--target-per-class 0", 1, "--target-per-class"},
      {de + "--target-val-per-class 6000", 1, "--target-val-per-class"},
      {de + "--target-test-per-class 1001", 1, "--target-test-per-class"},
      {de + "--device gpu", 1, "'gpu'"},
      {de + "--fashion-mnist-dir missing", 1, "--fashion-mnist-dir"},
      {de + "--fashion-mnist-dir empty", 1, "--fashion-mnist-dir"},
      {de + "--fashion-mnist-dir nodata", 1, "nodata"},
      {"demo --output empty", 1, "--output"},
  });
}

// `afinar train` with a small run's flags, `extra` replacing those it names.
std::string train_args(const std::string& extra) {
  std::string args = "train " + extra;
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"--data-dir", "split"}, {"--image-size", "16"}, {"-b", "2"}, {"-j", "0"},
      {"--max-steps", "1"},    {"--output", "runs/t"}};
  for (const auto& [flag, value] : defaults)
    if (extra.find(flag + " ") == std::string::npos) args += " " + flag + " " + value;
  return args;
}

TEST(BadInputCli, TrainData) {
  auto t = train_args;
  sweep({
      {"train -j 0", 1, "no dataset"},
      {t("--data-dir missing"), 1, "missing"},
      {t("--data-dir empty"), 1, "empty"},
      {t("--data-dir nodata"), 1, "no class folder"},
      {t("--data-dir noimages"), 1, "no valid file"},
      {t("--data-dir " + newline_name("")), 1, "new line"},
      {t("--data-dir data --val-split 1.5"), 1, "val"},
      {t("--data-dir data --val-split 1"), 1, "val"},
      {t("--data-dir data --val-split -0.1"), 1, "val"},
      {t("--data-dir data --val-split nan"), 1, "val"},
      {t("--data-dir data --test-split 0.9"), 1, "test"},
      {t("--test-split abc"), 2, "--test-split"},
      {t("--image-size 0"), 1, "--image-size"},
      {t("--image-size -5"), 1, "--image-size"},
      {t("--image-size 100000"), 1, "--image-size"},
      {t("--image-size 1000000000000"), 1, "--image-size"},
      {t("--image-size abc"), 2, "--image-size"},
      {t("--resize -1"), 1, "resize (--resize, [data] resize) must be 0"},
      {t("--resize 5000"), 1, "got 5000"},
      {t("--crop-mode stretch"), 1, "crop_mode (--crop-mode, [data] crop_mode) must be center"},
      {t("--interpolation Bicubic"), 1,
       "interpolation (--interpolation, [data] interpolation) must be nearest, bilinear or "
       "bicubic, got 'Bicubic'"},
      {t("--std 0,1,1"), 1, "std non-zero, got mean 0.485, std 0 for channel 0"},
      {t("--mean nan,0,0"), 1, "mean and std must be finite"},
      {t("--mean 1,2"), 2, "--mean"},
      {t("--std a,b,c"), 2, "--std"},
      {t("-b 0"), 1, "batch size"},
      {t("-b -4"), 1, "batch size"},
      {t("-b abc"), 2, "--batch-size"},
      {t("-j -1"), 1, "--workers"},
      {t("-j 100000"), 1, "--workers"},
      {t("--output empty"), 1, "empty"},
      {t("--output /dev/null"), 1, "/dev/null"},
      {t("--device gpu"), 1, "'gpu'"},
      {t("--max-steps -5"), 1, "--max-steps"},
      {t("--max-steps abc"), 2, "--max-steps"},
      {t("--log-interval 0"), 1, "--log-interval"},
      {t("--log-interval -1"), 1, "--log-interval"},
      {t("--patience -1"), 1, "--patience"},
      {t("--amp --amp-dtype half"), 1, "--amp-dtype"},
      {t("--seed abc"), 2, "--seed"},
      {t("--bogus"), 2, "--bogus"},
  });
}

TEST(BadInputCli, TrainFiles) {
  auto t = train_args;
  sweep({
      {t("--weights missing.h5"), 2, "missing.h5"},
      {t("--weights nodata"), 2, "nodata"},
      {t("--weights /dev/zero"), 1, "/dev/zero"},
      {t("--weights junk.bin"), 1, "junk.bin"},
      {t("--weights empty"), 1, "empty"},
      {t("--weights text.txt"), 1, "text.txt"},
      {t("--weights " + newline_name(".h5")), 1, "new line.h5"},
      {t("--weights w.h5 --weights-exclude zzz"), 1, "zzz"},
      {t("--weights-exclude 'fc.*'"), 1, "--weights"},
      {t("--resume w.h5"), 1, "not a checkpoint"},
      {t("--resume missing.h5"), 2, "missing.h5"},
      {t("--resume junk.bin"), 1, "junk.bin"},
      {t("--resume nodata"), 2, "nodata"},
      {t("--config missing.toml"), 2, "missing.toml"},
      {t("--config nodata"), 2, "nodata"},
      {t("--config /dev/zero"), 1, "not a regular file"},
      {t("--config junk.bin"), 1, "junk.bin"},
      {t("--config w.h5"), 1, "w.h5"},
  });
}

TEST(BadInputCli, TrainModel) {
  auto t = train_args;
  sweep({
      {t("--model nope"), 1, "unknown model 'nope'"},
      {t("--model ''"), 1, "unknown model ''"},
      {t("--num-classes 7"), 1, "7 classes"},
      {t("--num-classes -1"), 1, "num_classes"},
      {t("--num-classes abc"), 2, "--num-classes"},
      {t("--head weird"), 1, "head 'weird'"},
      {t("--head mlp --head-hidden 0"), 1, "hidden"},
      {t("--head mlp --head-dropout 1 0"), 1, "dropout"},
      {t("--head-dropout 0.5"), 2, "--head-dropout"},
  });
}

TEST(BadInputCli, TrainStage) {
  auto t = train_args;
  sweep({
      {t("--epochs 0"), 1, "epochs"},
      {t("--epochs -1"), 1, "epochs"},
      {t("--epochs abc"), 2, "--epochs"},
      {t("--opt nope"), 1, "optimizer 'nope'"},
      {t("--lr nan"), 1, "lr"},
      {t("--lr inf"), 1, "lr"},
      {t("--lr -1"), 1, "learning rate"},
      {t("--lr abc"), 2, "--lr"},
      {t("--momentum -1"), 1, "momentum"},
      {t("--momentum nan"), 1, "momentum"},
      {t("--weight-decay -1"), 1, "weight_decay"},
      {t("--weight-decay inf"), 1, "weight_decay"},
      {t("--sched nope"), 1, "schedule 'nope'"},
      {t("--sched step --decay-epochs 0"), 1, "step_size"},
      {t("--sched step --decay-rate nan"), 1, "gamma"},
      {t("--sched exponential --decay-rate -1"), 1, "gamma"},
      {t("--sched plateau --decay-rate 1"), 1, "factor must be < 1"},
      {t("--sched plateau --sched-on-updates"), 1, "plateau schedule steps once per epoch"},
      {t("--sched plateau --patience-epochs -1"), 1, "patience"},
      {t("--sched plateau --cooldown-epochs 1.5"), 2, "--cooldown-epochs"},
      {t("--sched cosine --min-lr -1"), 1, "--min-lr"},
      {t("--sched multistep --decay-milestones 3 1"), 1, "milestones"},
      {t("--sched onecycle --warmup-epochs 1"), 1, "warms up by itself"},
      {t("--eval-metric acc"), 1, "eval_metric"},
      {t("--eval-metric top5"), 1, "needs more than 5 classes (with 2"},
      {t("--train-crop -3"), 1, "--train-crop"},
      {t("--scale 0.9 0.1"), 1, "--scale"},
      {t("--scale 0.5"), 2, "--scale"},
      {t("--ratio 0 1"), 1, "--ratio"},
      {t("--hflip 2"), 1, "--hflip"},
      {t("--bn-momentum -0.1"), 1, "--bn-momentum"},
      {t("--validation-batch-size -2"), 1, "--validation-batch-size"},
      {t("--vflip -0.5"), 1, "--vflip"},
      {t("--rotation nan"), 1, "--rotation"},
      {t("--color-jitter 0.1 0.2"), 1, "--color-jitter takes 1 value"},
      {t("--color-jitter 0.1 0.1 0.1 0.7"), 1, "hue"},
      {t("--translate 0.1 -0.1"), 1, "--translate"},
      {t("--shear 100"), 1, "--shear"},
      {t("--reprob 1.5"), 1, "--reprob"},
      {t("--auto-augment rand-m9-mstd0.5"), 1,
       "auto_augment (--auto-augment) must be ta_wide (TrivialAugmentWide), ra (RandAugment), "
       "imagenet, cifar10 or svhn (AutoAugment's policies), or augmix (AugMix)"},
      {t("--auto-augment ra --ra-magnitude 31"), 1, "--ra-magnitude"},
      {t("--auto-augment augmix --augmix-severity 0"), 1,
       "augmix_severity (--augmix-severity) must be in [1, 10], got 0"},
      {t("--augmix-severity 11"), 1, "--augmix-severity"},
      {t("--augmix-severity x"), 2, "--augmix-severity"},
      {t("--auto-augment augmix --interpolation bicubic"), 1,
       "auto_augment augmix (--auto-augment) resamples on torchvision's tensor path, which has no "
       "bicubic warp"},
      {t("--clip-grad -1"), 1, "--clip-grad"},
      {t("--grad-accum-steps 0"), 1, "--grad-accum-steps"},
      {t("--model-ema --model-ema-decay 1.5"), 1, "--model-ema-decay"},
      {t("--model-ema-decay nan"), 1, "--model-ema-decay"},
      {t("--clip-grad inf"), 1, "--clip-grad"},
      {t("--mixup -0.2"), 1, "--mixup"},
      {t("--mixup nan"), 1, "--mixup"},
      {t("--cutmix inf"), 1, "--cutmix"},
      {t("--mixup 0.2 --mixup-prob 1.5"), 1, "--mixup-prob"},
      {t("--mixup 0.2 --mixup-off-epoch -1"), 1, "--mixup-off-epoch"},
      {t("--cutmix 1 --mixup-switch-prob -1"), 1, "--mixup-switch-prob"},
      {t("--warmup-epochs -1"), 1, "--warmup-epochs"},
      {t("--warmup-epochs 1 --warmup-method cosine"), 1,
       "scheduler 'warmup_method' (--warmup-method) must be \"linear\" or \"constant\", got "
       "'cosine'"},
      {t("--lr-warmup-epochs 1 --lr-warmup-decay 0"), 1,
       "'warmup_decay' (--warmup-decay), the warm-up's lr factor, must be in (0, 1] for the linear "
       "warm-up, got 0"},
      {t("--warmup-epochs 1 --warmup-method constant --warmup-decay nan"), 1,
       "must be in [0, 1] for the constant warm-up, got nan"},
      {t("--lr-decay 0"), 1, "lr_decay"},
      {t("--norm-weight-decay -0.1"), 1, "norm_weight_decay (--norm-weight-decay) must be >= 0"},
      {t("--bias-weight-decay inf"), 1, "bias_weight_decay (--bias-weight-decay) must be >= 0"},
      {t("--lr-decay nan"), 1, "lr_decay"},
      {t("--lr-decay inf"), 1, "lr_decay"},
      {t("--freeze zzz"), 1, "'zzz'"},
      {t("--freeze '*'"), 1, "every parameter is frozen"},
      {t("--unfreeze zzz"), 1, "'zzz'"},
  });
}

// A recipe for a small run with `set` ("table.key" or "key" -> TOML value) replacing or adding
// keys of its top level, [model], [data] and its one [[stage]].
std::string recipe(const std::map<std::string, std::string>& set) {
  std::map<std::string, std::map<std::string, std::string>> tables = {
      {"", {{"output", "\"runs/r\""}, {"max_steps", "1"}}},
      {"data", {{"dir", "\"split\""}, {"image_size", "16"}, {"batch_size", "2"}, {"workers", "0"}}},
      {"stage", {{"epochs", "1"}}}};
  for (const auto& [key, value] : set) {
    const size_t dot = key.find('.');
    if (dot == std::string::npos)
      tables[""][key] = value;
    else
      tables[key.substr(0, dot)][key.substr(dot + 1)] = value;
  }
  std::string out;
  for (const auto& [table, keys] : tables) {
    if (table == "stage")
      out += "[[stage]]\n";
    else if (!table.empty())
      out += "[" + table + "]\n";
    for (const auto& [key, value] : keys) out += key + " = " + value + "\n";
  }
  return out;
}

struct RecipeCase {
  std::string key, value, says;
};

// Each case's recipe is written to a file and run with `afinar train --config`: exit 1, one line.
void sweep_recipes(const std::vector<RecipeCase>& cases) {
  for (size_t i = 0; i < cases.size(); ++i) {
    const RecipeCase& c = cases[i];
    const std::string name = "recipe_" + c.key + "_" + std::to_string(i) + ".toml";
    write_file(fixture().path() + "/" + name, recipe({{c.key, c.value}}));
    SCOPED_TRACE(c.key + " = " + c.value);
    expect_clean_failure({"train --config " + name, 1, c.says});
  }
}

TEST(BadInputRecipe, TopLevelKeys) {
  sweep_recipes({
      {"seed", "-1", "'seed'"},
      {"seed", "\"x\"", "'seed' must be an integer"},
      {"seed", "1.5", "'seed' must be an integer"},
      {"device", "\"gpu\"", "'gpu'"},
      {"device", "3", "'device' must be a string"},
      {"smoothing", "2.0", "smoothing"},
      {"smoothing", "nan", "smoothing"},
      {"smoothing", "inf", "smoothing"},
      {"smoothing", "\"x\"", "'smoothing' must be a number"},
      {"clip_grad", "-0.5", "clip_grad"},
      {"grad_accum_steps", "0", "grad_accum_steps"},
      {"model_ema_decay", "-0.1", "model_ema_decay"},
      {"model_ema", "1", "'model_ema' must be true or false"},
      {"grad_accum_steps", "1.5", "'grad_accum_steps' must be an integer"},
      {"clip_grad", "true", "'clip_grad' must be a number"},
      {"mixup", "-1", "mixup"},
      {"mixup", "\"x\"", "'mixup' must be a number"},
      {"cutmix", "nan", "cutmix"},
      {"mixup_prob", "2", "mixup_prob"},
      {"mixup_off_epoch", "-2", "mixup_off_epoch"},
      {"mixup_switch_prob", "-0.5", "mixup_switch_prob"},
      {"patience", "-1", "patience"},
      {"patience", "1.5", "'patience' must be an integer"},
      {"eval_metric", "\"acc\"", "eval_metric"},
      {"eval_metric", "3", "'eval_metric' must be a string"},
      {"max_steps", "-7", "max_steps"},
      {"max_steps", "1e3", "'max_steps' must be an integer"},
      {"log_interval", "0", "log_interval"},
      {"log_interval", "-3", "log_interval"},
      {"tta", "1", "'tta' must be true or false"},
      {"tta", "\"yes\"", "'tta' must be true or false"},
      {"amp", "1", "'amp' must be true or false"},
      {"channels_last", "\"nhwc\"", "'channels_last' must be true or false"},
      {"amp_dtype", "\"fp8\"", "amp_dtype"},
      {"amp_dtype", "16", "'amp_dtype' must be a string"},
      {"output", "5", "'output' must be a string"},
      {"model", "3", "'model' must be a table"},
      {"stage", "5", "'stage'"},
      {"bogus", "1", "unknown key 'bogus'"},
  });
}

TEST(BadInputRecipe, ModelKeys) {
  sweep_recipes({
      {"model.name", "\"nope\"", "unknown model 'nope'"},
      {"model.name", "5", "'name' must be a string"},
      {"model.weights", "\"missing.h5\"", "missing.h5"},
      {"model.weights", "\"nodata\"", "nodata"},
      {"model.weights", "\"/dev/zero\"", "/dev/zero"},
      {"model.weights", "\"junk.bin\"", "junk.bin"},
      {"model.weights", "5", "'weights' must be a string"},
      {"model.weights_exclude", "[\"fc.*\"]", "weights_exclude"},  // and no weights
      {"model.weights_exclude", "\"fc.*\"", "'weights_exclude' must be an array"},
      {"model.num_classes", "-1", "num_classes"},
      {"model.num_classes", "7", "7 classes"},
      {"model.num_classes", "1.5", "'num_classes' must be an integer"},
      {"model.head", "\"weird\"", "head 'weird'"},
      {"model.head", "4", "'head' must be a kind"},
      {"model.head", "{ kind = \"mlp\", hidden = 0 }", "hidden"},
      {"model.head", "{ kind = \"mlp\", dropout = [nan, 0.1] }", "dropout"},
      {"model.head", "{ kind = \"mlp\", dropout = [0.5] }", "'dropout' must be two numbers"},
      {"model.head", "{ kind = \"linear\", hidden = 5 }", "settings of the mlp head"},
      {"model.head", "{ kind = \"mlp\", size = 5 }", "unknown key 'size'"},
      {"model.bogus", "1", "unknown key 'bogus'"},
      {"model.bn_momentum", "1.5", "bn_momentum"},
      {"model.bn_momentum", "\"x\"", "'bn_momentum' must be a number"},
  });
}

TEST(BadInputRecipe, DataKeys) {
  sweep_recipes({
      {"data.dir", "\"missing\"", "missing"},
      {"data.dir", "\"nodata\"", "no class folder"},
      {"data.dir", "\"noimages\"", "no valid file"},
      {"data.dir", "5", "'dir' must be a string"},
      {"data.val_split", "1.5", "val_split"},
      {"data.val_split", "nan", "val_split"},
      {"data.val_split", "\"x\"", "'val_split' must be a number"},
      {"data.test_split", "-1", "test_split"},
      {"data.image_size", "0", "image_size"},
      {"data.image_size", "1000000000000", "image_size"},
      {"data.image_size", "16.5", "'image_size' must be an integer"},
      {"data.batch_size", "0", "batch_size"},
      {"data.batch_size", "-2", "batch_size"},
      {"data.workers", "-1", "workers"},
      {"data.workers", "100000", "workers"},
      {"data.workers", "5000000000", "'workers' = 5000000000 is out of range"},
      {"data.augment", "\"yes\"", "'augment' must be true, false or a table"},
      {"data.augment", "{ crop = -1 }", "crop (--train-crop)"},
      {"data.augment", "{ crop = 1.5 }", "'crop' must be an integer"},
      {"data.augment", "{ scale = [0.9, 0.1] }", "scale (--scale)"},
      {"data.augment", "{ scale = [0.0, 1.0] }", "scale (--scale)"},
      {"data.augment", "{ scale = 0.5 }", "'scale' must be an array of 2 numbers"},
      {"data.augment", "{ ratio = [1.0, nan] }", "ratio (--ratio)"},
      {"data.augment", "{ hflip = 1.5 }", "hflip"},
      {"data.augment", "{ rotation = -15 }", "rotation"},
      {"data.augment", "{ color_jitter = [0.3, 0.3] }", "takes 1 value"},
      {"data.augment", "{ color_jitter = [0.3, 0.3, 0.3, 0.9] }", "hue"},
      {"data.augment", "{ color_jitter = [-1.0, 0.3, 0.3] }", "brightness"},
      {"data.augment", "{ color_jitter = [\"a\"] }", "'color_jitter' must be numbers"},
      {"data.augment", "{ affine_translate = [0.1, 2.0] }", "affine_translate"},
      {"data.augment", "{ affine_shear = 90 }", "affine_shear"},
      {"data.augment", "{ erasing = -0.2 }", "erasing"},
      {"data.augment", "{ auto_augment = \"augmix2\" }", "auto_augment"},
      {"data.augment", "{ ra_magnitude = -1 }", "ra_magnitude"},
      {"data.augment", "{ augmix_severity = 0 }", "augmix_severity"},
      {"data.augment", "{ cutmix = 1.0 }", "unknown key 'cutmix'"},
      {"data.shuffle", "0", "'shuffle' must be true or false"},
      {"data.bogus", "1", "unknown key 'bogus'"},
  });
}

TEST(BadInputRecipe, StageKeys) {
  sweep_recipes({
      {"stage.epochs", "0", "epochs"},
      {"stage.epochs", "-3", "epochs"},
      {"stage.epochs", "1e12", "'epochs' must be an integer"},
      {"stage.epochs", "\"1\"", "'epochs' must be an integer"},
      {"stage.freeze", "\"x\"", "'freeze' must be an array"},
      {"stage.freeze", "[1]", "'freeze' must be an array of one type"},
      {"stage.unfreeze", "[\"zzz\"]", "'zzz'"},
      {"stage.unfreeze_schedule", "3", "'unfreeze_schedule' must be an array"},
      {"stage.unfreeze_schedule", "[ { epoch = -1, unfreeze = [\"fc.*\"] } ]", "epoch -1"},
      {"stage.unfreeze_schedule", "[ { epoch = 5, unfreeze = [\"fc.*\"] } ]", "epoch 5"},
      {"stage.unfreeze_schedule", "[ { epoch = 0 } ]", "needs 'epoch'"},
      {"stage.optimizer", "5", "'optimizer' must be a table"},
      {"stage.optimizer", "{ name = \"nope\" }", "optimizer 'nope'"},
      {"stage.optimizer", "{ name = \"sgd\", lr = nan }", "'lr'"},
      {"stage.optimizer", "{ name = \"sgd\", lr = inf }", "'lr'"},
      {"stage.optimizer", "{ name = \"sgd\", lr = -1.0 }", "learning rate"},
      {"stage.optimizer", "{ name = \"sgd\", lr = \"fast\" }", "'lr' must be a number"},
      {"stage.optimizer", "{ name = \"sgd\", nesterov = true, momentum = 0.0 }", "Nesterov"},
      {"stage.optimizer", "{ name = \"sgd\", bogus = 1 }", "'bogus'"},
      {"stage.optimizer", "{ name = \"adam\", betas = [0.9, 2.0] }", "beta2"},
      {"stage.optimizer", "{ name = \"adam\", betas = [0.9] }", "'betas' must be two numbers"},
      {"stage.optimizer", "{ name = \"adam\", eps = -1.0 }", "eps"},
      {"stage.optimizer", "{ name = \"rmsprop\", alpha = -0.5 }", "alpha"},
      {"stage.optimizer", "{ name = \"rmsprop\", betas = [0.9, 0.99] }", "'beta1'"},
  });
}

TEST(BadInputRecipe, ScheduleKeys) {
  const std::string sched = "{ name = \"step\", ";
  sweep_recipes({
      {"stage.scheduler", "5", "'scheduler' must be a table"},
      {"stage.scheduler", "{ name = \"nope\" }", "schedule 'nope'"},
      {"stage.scheduler", sched + "step_size = 0 }", "step_size"},
      {"stage.scheduler", sched + "step_size = 1.5 }", "step_size"},
      {"stage.scheduler", sched + "gamma = nan }", "gamma"},
      {"stage.scheduler", sched + "gamma = -1.0 }", "gamma"},
      {"stage.scheduler", sched + "bogus = 2 }", "'bogus' is not an argument of a schedule"},
      {"stage.scheduler", "{ name = \"multistep\", milestones = [-1] }", "milestones"},
      {"stage.scheduler", "{ name = \"multistep\", milestones = [3, 1] }", "milestones"},
      {"stage.scheduler", "{ name = \"multistep\", milestones = 3 }", "'milestones' must be"},
      {"stage.scheduler", "{ name = \"cosine\", T_max = 0 }", "T_max"},
      {"stage.scheduler", "{ name = \"cosine\", eta_min = nan }", "eta_min"},
      {"stage.scheduler", "{ name = \"cosine_restarts\", T_0 = 0 }", "T_0"},
      {"stage.scheduler", "{ name = \"cosine_restarts\", T_mult = 0.5 }", "T_mult"},
      {"stage.scheduler", "{ name = \"poly\", total_iters = 0 }", "total_iters"},
      {"stage.scheduler", "{ name = \"poly\", power = -1.0 }", "power"},
      {"stage.scheduler", "{ name = \"none\", warmup_epochs = -1 }", "warmup_epochs"},
      {"stage.scheduler", "{ name = \"none\", warmup_epochs = 1.5 }", "'warmup_epochs' must be"},
      {"stage.scheduler", "{ name = \"none\", warmup_method = 1 }", "'warmup_method' must be"},
      {"stage.scheduler", "{ name = \"none\", warmup_method = \"constant\", warmup_decay = 1.5 }",
       "[0, 1] for the constant warm-up, got 1.5"},
      {"stage.scheduler", "{ name = \"cosine\", interval = \"batch\" }", "'interval' must be"},
      {"stage.scheduler", "{ name = \"plateau\", interval = \"step\" }", "once per epoch"},
      {"stage.scheduler", "{ name = \"plateau\", factor = 1.0 }", "'factor'"},
      {"stage.scheduler", "{ name = \"plateau\", patience = 1.5 }", "'patience'"},
      {"stage.scheduler", "{ name = \"plateau\", threshold_mode = \"x\" }", "threshold_mode"},
      {"stage.scheduler", "{ name = \"plateau\", warmup_epochs = 1 }", "warmup_epochs"},
      {"stage.scheduler", "{ name = \"onecycle\", pct_start = 0 }", "pct_start"},
      {"stage.scheduler", "{ name = \"onecycle\", max_lr = 0 }", "max_lr"},
      {"stage.scheduler", "{ name = \"onecycle\", three_phase = 2 }", "three_phase"},
      {"stage.scheduler", "{ name = \"onecycle\", three_phase = true, pct_start = 0.6 }",
       "pct_start must be < 0.5"},
      {"stage.scheduler", "{ name = \"onecycle\", anneal_strategy = \"exp\" }", "anneal_strategy"},
      {"stage.scheduler", "{ name = \"onecycle\", warmup_epochs = 1 }", "warms up by itself"},
      {"stage.param_groups", "3", "'param_groups' must be an array"},
      {"stage.param_groups", "[ 3 ]", "must be a table"},
      {"stage.param_groups", "[ { params = [\"zzz\"], lr = 0.1 } ]", "matches no parameter"},
      {"stage.param_groups", "[ { params = [\"fc.*\"], lr = nan } ]", "'lr'"},
      {"stage.param_groups", "[ { lr = 0.1 } ]", "'params' must list"},
      {"stage.lr_decay", "nan", "lr_decay"},
      {"stage.lr_decay", "inf", "lr_decay"},
      {"stage.lr_decay", "0", "lr_decay"},
      {"stage.lr_decay", "\"x\"", "'lr_decay' must be a number"},
      {"stage.bogus", "1", "unknown key 'bogus'"},
  });
}

// Whole files that are not recipes.
TEST(BadInputRecipe, Files) {
  const std::string d = fixture().path();
  write_file(d + "/syntax.toml", "[[[bad");
  write_file(d + "/no_stage.toml", "stage = []\n[data]\ndir = \"split\"\n");
  write_file(d + "/huge.toml", std::string(2 << 20, '#'));
  write_file(d + "/nul.toml", std::string("output = \"a\0b\"\n", 15));
  sweep({
      {"train --config syntax.toml", 1, "syntax.toml:1:"},
      {"train --config no_stage.toml", 1, "'stage' must be one or more"},
      {"train --config huge.toml", 1, "at most 1 MiB"},
      {"train --config nul.toml", 1, "nul.toml"},
      {"train --config empty", 1, "no dataset"},
      {"train --config text.txt", 1, "text.txt"},
  });
}

}  // namespace
}  // namespace afinar
