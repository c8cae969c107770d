// `afinar eval` end to end: a resnet18 weights file with its own preprocessing and class names,
// a small ImageFolder written here (train/val/test folders of 6 classes, PNG noise images), and
// the real executable. Its figures are checked against logits computed in this process, image by
// image, with a hand-written log-softmax and a hand-mirrored image for --tta; then split choice,
// plain class folders, the confusion CSV, --help and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "afinar/autograd/grad_mode.h"
#include "afinar/data/decode.h"
#include "afinar/data/transforms.h"
#include "afinar/io/model_file.h"
#include "afinar/io/weights.h"
#include "afinar/nn/models.h"
#include "afinar/train/html.h"
#include "afinar/train/run_files.h"
#include "testing/cli.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

namespace fs = std::filesystem;
using testing::cli;

const std::vector<std::string> kClasses = {"ant", "bee", "cat", "dog", "eel", "fox"};

// Image `i` of class `c`: 20x16 noise around a colour of the class (distinct per image).
data::Image noise_image(int64_t c, int64_t i) {
  Generator gen(uint64_t(100 * c + i + 1));
  const std::vector<float> u = uniform({20 * 16 * 3}, 0, 1, DType::F32, gen).to_vector<float>();
  data::Image img(20, 16, 3);
  for (size_t k = 0; k < img.data.size(); ++k)
    img.data[k] =
        uint8_t(std::lround(255 * (0.5 * u[k] + 0.5 * double((c + int64_t(k % 3)) % 4) / 3)));
  return img;
}

struct Sample {
  std::string path;
  int64_t label;
};

// root/<split>/<class>/<i>.png for `per_class` images per class; the samples in class order.
std::vector<Sample> write_split(const std::string& root, const std::string& split,
                                int64_t per_class, const std::vector<std::string>& classes) {
  std::vector<Sample> out;
  for (int64_t c = 0; c < int64_t(classes.size()); ++c) {
    const fs::path dir = fs::path(root) / split / classes[size_t(c)];
    fs::create_directories(dir);
    for (int64_t i = 0; i < per_class; ++i) {
      const std::string path = (dir / (std::to_string(i) + ".png")).string();
      const std::vector<uint8_t> png =
          train::encode_png(noise_image(c, i + 10 * int64_t(split.size())));
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
      out.push_back({path, c});
    }
  }
  return out;
}

io::WeightsMeta meta_for(const std::vector<std::string>& class_names) {
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 6;
  meta.source = "eval_cli_test";
  meta.preprocessing.resize = 18;
  meta.preprocessing.crop = 16;
  meta.preprocessing.mean = {0.5, 0.4, 0.3};  // not ImageNet's: the file's own must be used
  meta.preprocessing.std = {0.2, 0.25, 0.3};
  meta.class_names = class_names;
  return meta;
}

// [C, H, W] mirrored left-right by index arithmetic (independent of the flip op).
Tensor mirrored(const Tensor& img) {
  const int64_t W = img.size(-1), rows = img.numel() / W;
  const std::vector<float> v = img.to_vector<float>();
  std::vector<float> out(v.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t x = 0; x < W; ++x) out[size_t(r * W + x)] = v[size_t(r * W + W - 1 - x)];
  return from_vector(out, img.shape());
}

// What eval must report, from logits computed here one image at a time.
struct Expected {
  double loss = 0;
  int64_t correct_lo = 0, correct_hi = 0;  // near-ties may go either way
  int64_t top5 = 0;
  std::vector<std::vector<int64_t>> confusion;
  int64_t near_ties = 0;
};

Expected expected_for(nn::Module& model, const io::WeightsMeta& meta,
                      const std::vector<Sample>& samples, bool tta) {
  const io::Preprocessing& pp = meta.preprocessing;
  const data::Compose transform = data::eval_transform(pp);
  NoGradGuard no_grad;
  model.eval();
  Expected e;
  e.confusion.assign(6, std::vector<int64_t>(6, 0));
  for (const Sample& s : samples) {
    Generator unused(0);
    const Tensor x = transform(data::decode_image(s.path), unused);
    auto logits_of = [&](const Tensor& img) {
      return model(img.reshape({1, 3, 16, 16})).to_vector<float>();
    };
    std::vector<float> z = logits_of(x);
    if (tta) {
      const std::vector<float> m = logits_of(mirrored(x));
      for (size_t k = 0; k < z.size(); ++k) z[k] = (z[k] + m[k]) / 2;  // ttach's mean, in f32
    }
    // Cross-entropy by hand: logsumexp(z) - z_t, in double.
    const double zmax = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (float v : z) sum += std::exp(double(v) - zmax);
    e.loss += zmax + std::log(sum) - double(z[size_t(s.label)]);
    std::vector<size_t> order(z.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return z[a] > z[b]; });
    const bool near_tie = z[order[0]] - z[order[1]] < 1e-3f;
    e.near_ties += near_tie ? 1 : 0;
    if (order[0] == size_t(s.label)) ++e.correct_lo;
    if (order[0] == size_t(s.label) || near_tie) ++e.correct_hi;
    for (size_t k = 0; k < 5; ++k) e.top5 += order[k] == size_t(s.label) ? 1 : 0;
    ++e.confusion[size_t(s.label)][order[0]];
  }
  e.loss /= double(samples.size());
  return e;
}

// The integers of a JSON array of arrays ("[[1, 0], [2, 3]]"), row by row.
std::vector<std::vector<int64_t>> int_matrix(const std::string& text) {
  std::vector<std::vector<int64_t>> rows;
  int depth = 0;
  std::string number;
  for (char ch : text) {
    if (std::isdigit(static_cast<unsigned char>(ch))) {
      number += ch;
      continue;
    }
    if (!number.empty()) {
      rows.back().push_back(std::stoll(number));
      number.clear();
    }
    if (ch == '[' && ++depth == 2) rows.emplace_back();
    if (ch == ']') --depth;
  }
  return rows;
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "data";
    test_ = write_split(root_, "test", 2, kClasses);
    write_split(root_, "val", 1, kClasses);
    write_split(root_, "train", 1, kClasses);
    model_ = nn::create_model("resnet18", 6);
    io::save_weights(dir_ / "w.h5", model_->state_dict(), meta_for(kClasses));
  }

  // The JSON object `eval <args> --json` prints, asserting it exits with 0.
  train::JsonFields eval_json(const std::string& args) {
    const testing::Result r = cli("eval --weights " + (dir_ / "w.h5") + " " + args + " --json");
    EXPECT_EQ(r.code, 0) << r.output;
    std::optional<train::JsonFields> f = train::parse_json_object(r.output);
    EXPECT_TRUE(f.has_value()) << r.output;
    return f.value_or(train::JsonFields{});
  }

  void expect_figures(const train::JsonFields& got, const Expected& want, bool tta) {
    SCOPED_TRACE(tta ? "tta" : "plain");
    const double n = double(test_.size());
    EXPECT_EQ(got.at("images"), std::to_string(test_.size()));
    EXPECT_EQ(got.at("tta"), tta ? "true" : "false");
    // The executable batches 12 images where this process ran them one by one: the convolutions'
    // sums may round differently, f32 over up to 4,608 terms (512 channels x 3x3): ~1e-5 relative.
    EXPECT_NEAR(train::json_field_number(got, "loss"), want.loss, 1e-4 * std::max(1.0, want.loss));
    const int64_t correct = std::lround(train::json_field_number(got, "accuracy") * n);
    EXPECT_GE(correct, want.correct_lo);
    EXPECT_LE(correct, want.correct_hi);
    EXPECT_EQ(std::lround(train::json_field_number(got, "top5") * n), want.top5);  // %.9g
    if (want.near_ties == 0) {
      EXPECT_EQ(int_matrix(got.at("confusion")), want.confusion);
    }
  }

  testing::TempDir dir_;
  std::string root_;
  std::vector<Sample> test_;
  nn::ModulePtr model_;
};

TEST_F(EvalCli, FiguresMatchTheModelInProcess) {
  const Expected plain = expected_for(*model_, meta_for(kClasses), test_, false);
  const train::JsonFields got = eval_json("--data-dir " + root_ + " -b 5");
  EXPECT_EQ(got.at("split"), "test");
  EXPECT_EQ(got.at("skipped"), "0");
  expect_figures(got, plain, false);

  const Expected tta = expected_for(*model_, meta_for(kClasses), test_, true);
  const train::JsonFields got_tta = eval_json("--data-dir " + root_ + " --tta");
  expect_figures(got_tta, tta, true);
  EXPECT_NE(got_tta.at("loss"), got.at("loss")) << "--tta changed nothing";

  // --amp: the bf16 forward, close to the float32 figures but not equal to them.
  const train::JsonFields got_amp = eval_json("--data-dir " + root_ + " --amp");
  EXPECT_EQ(got_amp.at("amp"), "true");
  EXPECT_EQ(got.at("amp"), "false");
  EXPECT_NE(got_amp.at("loss"), got.at("loss")) << "--amp changed nothing";
  // bf16 rounds to 2^-8 relative at each of ~40 roundings (tests/nn/models_test.cpp).
  EXPECT_NEAR(train::json_field_number(got_amp, "loss"), plain.loss,
              std::ldexp(1.0, -8) * std::sqrt(40.0) * std::max(1.0, plain.loss));

  // --channels-last: NHWC weights and batches, the same figures (summation order aside), with
  // and without the mirror images.
  expect_figures(eval_json("--data-dir " + root_ + " --channels-last"), plain, false);
  expect_figures(eval_json("--data-dir " + root_ + " --channels-last --tta"), tta, true);

  // --fold-bn: the batch norms folded into the convolutions, the same figures (rounding aside),
  // also with the other options.
  const train::JsonFields got_folded = eval_json("--data-dir " + root_ + " --fold-bn");
  EXPECT_EQ(got_folded.at("fold_bn"), "true");
  EXPECT_EQ(got.at("fold_bn"), "false");
  expect_figures(got_folded, plain, false);
  expect_figures(eval_json("--data-dir " + root_ + " --fold-bn --channels-last --tta"), tta, true);

  // The text tables say the same, with the class names; --output writes the confusion CSV.
  const testing::Result text = cli("eval --weights " + (dir_ / "w.h5") + " --data-dir " + root_ +
                                   " --output " + (dir_ / "out"));
  ASSERT_EQ(text.code, 0) << text.output;
  char accuracy[64];
  std::snprintf(accuracy, sizeof accuracy, "accuracy  %.4f (%ld/12)",
                train::json_field_number(got, "accuracy"),
                std::lround(train::json_field_number(got, "accuracy") * 12));
  EXPECT_NE(text.output.find(accuracy), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("top-5"), std::string::npos);
  EXPECT_NE(text.output.find("class  precision  recall      F1  support"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("\nfox  "), std::string::npos);
  EXPECT_NE(text.output.find("confusion matrix"), std::string::npos);
  const train::ConfusionMatrix csv = train::read_confusion(dir_ / "out/confusion_test.csv", 6);
  const auto json_matrix = int_matrix(got.at("confusion"));
  ASSERT_EQ(json_matrix.size(), 6u);
  for (int64_t t = 0; t < 6; ++t)
    for (int64_t p = 0; p < 6; ++p) EXPECT_EQ(csv.at(t, p), json_matrix[size_t(t)][size_t(p)]);
  std::ifstream header(dir_ / "out/confusion_test.csv");
  std::string first;
  std::getline(header, first);
  EXPECT_EQ(first, "true\\predicted,ant,bee,cat,dog,eel,fox");
}

TEST_F(EvalCli, SplitsAndPlainFolders) {
  EXPECT_EQ(eval_json("--data-dir " + root_ + " --split val").at("images"), "6");
  EXPECT_EQ(eval_json("--data-dir " + root_ + " --split train").at("split"), "train");
  // Without a test folder the default is val (here spelled "valid", as some datasets do).
  fs::remove_all(root_ + "/test");
  fs::rename(root_ + "/val", root_ + "/valid");
  const train::JsonFields val = eval_json("--data-dir " + root_);
  EXPECT_EQ(val.at("split"), "val");
  EXPECT_EQ(val.at("images"), "6");
  // A folder of class folders is evaluated whole.
  const train::JsonFields all = eval_json("--data-dir " + root_ + "/train");
  EXPECT_EQ(all.at("split"), "all");
  EXPECT_EQ(all.at("images"), "6");
}

// A runtime error is one line, "afinar: error: ..." saying what is wrong, and exit code 1.
// (main.cpp prints afinar::Error's whole text, so the failed check and its source location may
// follow, on lines of their own indented by two spaces; nothing else may.)
void expect_one_line_error(const testing::Result& r, const std::string& says) {
  EXPECT_EQ(r.code, 1) << r.output;
  std::istringstream lines(r.output);
  std::string first;
  std::getline(lines, first);
  EXPECT_EQ(first.rfind("afinar: error: ", 0), 0u) << r.output;
  EXPECT_NE(first.find(says), std::string::npos) << r.output;
  for (std::string l; std::getline(lines, l);)
    EXPECT_TRUE(l.rfind("  check failed: ", 0) == 0 || l.rfind("  at ", 0) == 0) << r.output;
}

TEST_F(EvalCli, BadInputIsOneLineAndExitOne) {
  const std::string w = " --weights " + (dir_ / "w.h5");
  expect_one_line_error(cli("eval --weights " + (dir_ / "nope.h5") + " --data-dir " + root_),
                        "nope.h5");
  expect_one_line_error(cli("eval" + w + " --data-dir " + (dir_ / "nowhere")), "nowhere");
  expect_one_line_error(cli("eval" + w + " --data-dir " + root_ + "/test --split val"),
                        "--split val");
  // A class folder with no image in it.
  fs::create_directories(dir_ / "empty/ant");
  expect_one_line_error(cli("eval" + w + " --data-dir " + (dir_ / "empty")), "empty");
  // Folders named otherwise than the file's classes.
  write_split(dir_ / "other", "test", 1, {"ant", "bee", "cat", "dog", "eel", "gnu"});
  expect_one_line_error(cli("eval" + w + " --data-dir " + (dir_ / "other")),
                        "no folder for 'fox'; unknown 'gnu'");
  // A file without class names needs as many folders as classes.
  io::save_weights(dir_ / "anon.h5", model_->state_dict(), meta_for({}));
  write_split(dir_ / "five", "test", 1, {"a", "b", "c", "d", "e"});
  expect_one_line_error(
      cli("eval --weights " + (dir_ / "anon.h5") + " --data-dir " + (dir_ / "five")),
      "5 class folders");
  // Usage errors are CLI11's, not runtime errors.
  const testing::Result usage = cli("eval" + w + " --data-dir " + root_ + " --split holdout");
  EXPECT_NE(usage.code, 0);
  EXPECT_NE(usage.code, 1) << usage.output;
}

TEST(EvalCliHelp, ListsEveryFlagWithDefaults) {
  const testing::Result r = cli("eval --help");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* flag : {"--weights", "--data-dir", "--split", "-b,--batch-size", "-j,--workers",
                           "--tta", "--device", "--json", "--output"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag << "\n" << r.output;
  EXPECT_NE(r.output.find("64"), std::string::npos) << r.output;   // batch size
  EXPECT_NE(r.output.find("cpu"), std::string::npos) << r.output;  // device
}

}  // namespace
}  // namespace afinar
