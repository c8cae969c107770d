// `afinar predict` end to end: a resnet18 with 3 classes and its own preprocessing saved as a
// weights file, the real executable on committed images, its JSON lines compared with the same
// model run in process on the same preprocessed input.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/data/decode.h"
#include "afinar/data/transforms.h"
#include "afinar/io/weights.h"
#include "afinar/nn/fuse.h"
#include "afinar/nn/models.h"
#include "testing/cli.h"
#include "testing/compare.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

using testing::run_cli;

// The numbers of the JSON array after `"key": [` in `line`.
std::vector<double> json_array(const std::string& line, const std::string& key) {
  const size_t at = line.find("\"" + key + "\": [");
  if (at == std::string::npos) return {};
  std::istringstream in(line.substr(line.find('[', at) + 1));
  std::vector<double> out;
  for (double v; in >> v;) {
    out.push_back(v);
    char sep;
    if (!(in >> sep) || sep != ',') break;
  }
  return out;
}

// A resnet18 with 3 classes in eval mode, saved to `path` with 40 -> 32 preprocessing and the
// given class names.
nn::ModulePtr saved_model(const std::string& path, std::vector<std::string> class_names = {}) {
  nn::ModulePtr model = nn::create_model("resnet18", 3);
  model->eval();
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 3;
  meta.source = "predict_cli_test";
  meta.preprocessing.resize = 40;
  meta.preprocessing.crop = 32;
  meta.class_names = std::move(class_names);
  io::save_weights(path, model->state_dict(), meta);
  return model;
}

TEST(PredictCli, JsonMatchesTheModelInProcess) {
  testing::TempDir dir;
  const std::vector<std::string> names = {"cat", "dog", "owl \"quoted\""};
  nn::ModulePtr model = saved_model(dir / "w.h5", names);

  const std::vector<std::string> images = {
      testing::test_data_path("fixtures/decode/jpeg_420.jpg"),
      testing::test_data_path("fixtures/decode/bmp_rgb24.bmp")};
  ASSERT_EQ(run_cli("predict --weights " + (dir / "w.h5") + " --json --logits --topk 2 " +
                        images[0] + " " + images[1],
                    dir / "out.jsonl"),
            0);
  std::ifstream out(dir / "out.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(out, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), images.size());

  const data::Compose transform = data::eval_transform({.resize = 40, .crop = 32});
  NoGradGuard no_grad;
  for (size_t i = 0; i < images.size(); ++i) {
    SCOPED_TRACE(images[i]);
    Generator unused(0);
    const Tensor x = transform(data::decode_image(images[i]), unused);
    const Tensor want = (*model)(x.reshape({1, 3, 32, 32})).reshape({3});
    const std::vector<double> got = json_array(lines[i], "logits");
    ASSERT_EQ(got.size(), 3u) << lines[i];
    EXPECT_ALLCLOSE(from_vector(got, {3}).to(DType::F32), want, testing::tolerance_for(DType::F32));
    EXPECT_NE(lines[i].find("\"image\": \"" + images[i] + "\""), std::string::npos) << lines[i];
    // The top-1 label is the argmax's name; quotes inside names are escaped.
    const auto w = want.to_vector<float>();
    const int64_t best = int64_t(std::max_element(w.begin(), w.end()) - w.begin());
    const std::string name = best == 2 ? "owl \\\"quoted\\\"" : names[size_t(best)];
    EXPECT_NE(lines[i].find("\"label\": \"" + name + "\", \"topk\""), std::string::npos)
        << lines[i];
  }
}

// What `afinar predict --json --logits FLAGS` prints for the test image with a saved 3-class
// resnet18 (returned in `model`, in eval mode), and that image as the model's input [1, 3, 32, 32].
struct Predicted {
  nn::ModulePtr model;
  Tensor logits, input;
};
Predicted predict_logits(const testing::TempDir& dir, const std::string& flags) {
  Predicted p;
  p.model = saved_model(dir / "w.h5");
  const std::string image = testing::test_data_path("fixtures/decode/jpeg_420.jpg");
  EXPECT_EQ(
      run_cli("predict --weights " + (dir / "w.h5") + " --json --logits " + flags + " " + image,
              dir / "out.jsonl"),
      0);
  std::ifstream out(dir / "out.jsonl");
  std::string line;
  std::getline(out, line);
  const std::vector<double> got = json_array(line, "logits");
  EXPECT_EQ(got.size(), 3u) << line;
  p.logits = from_vector(got, {int64_t(got.size())}).to(DType::F32);
  Generator unused(0);
  p.input = data::eval_transform({.resize = 40, .crop = 32})(data::decode_image(image), unused)
                .reshape({1, 3, 32, 32});
  return p;
}

// --amp: the logits of the forward under autocast, as the same model gives them in process.
TEST(PredictCli, AmpGivesTheAutocastLogits) {
  testing::TempDir dir;
  const Predicted p = predict_logits(dir, "--amp");
  ASSERT_EQ(p.logits.numel(), 3);
  NoGradGuard no_grad;
  Tensor want;
  {
    AutocastGuard amp(DeviceType::CPU);
    want = (*p.model)(p.input).reshape({3});
  }
  ASSERT_EQ(want.dtype(), DType::BF16);  // the same computation: equal up to the printed digits
  EXPECT_ALLCLOSE(p.logits, want.to(DType::F32), testing::tolerance_for(DType::F32));
  const Tensor fp32 = (*p.model)(p.input).reshape({3});
  EXPECT_NE(want.to(DType::F32).to_vector<float>(), fp32.to_vector<float>())
      << "amp changed nothing";
}

// --fold-bn: the logits of the model with its batch norms folded (nn::fuse_conv_bn), as the same
// folded model gives them in process, and within float32 rounding of the unfolded model's.
TEST(PredictCli, FoldBnGivesTheFoldedModelsLogits) {
  testing::TempDir dir;
  const Predicted p = predict_logits(dir, "--fold-bn");
  ASSERT_EQ(p.logits.numel(), 3);
  NoGradGuard no_grad;
  const Tensor plain = (*p.model)(p.input).reshape({3});
  EXPECT_EQ(nn::fuse_conv_bn(*p.model), 20u);
  const Tensor folded = (*p.model)(p.input).reshape({3});
  EXPECT_ALLCLOSE(p.logits, folded, testing::tolerance_for(DType::F32));  // the printed digits
  // resnet18's ~20 layers, each rounded differently: 1e-4 of the largest logit (models_test.cpp).
  EXPECT_LT(testing::max_relative_error(p.logits, plain), 1e-4);
}

TEST(PredictCli, UnreadableImageIsReportedAndExitsOne) {
  testing::TempDir dir;
  nn::ModulePtr model = nn::create_model("resnet18", 2);
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 2;
  meta.preprocessing.resize = 32;
  meta.preprocessing.crop = 32;
  io::save_weights(dir / "w.h5", model->state_dict(), meta);
  std::ofstream(dir / "not_an_image.jpg") << "hello";
  const std::string good = testing::test_data_path("fixtures/decode/jpeg_444.jpg");
  EXPECT_EQ(run_cli("predict --weights " + (dir / "w.h5") + " --json " +
                        (dir / "not_an_image.jpg") + " " + good,
                    dir / "out.jsonl"),
            1);
  // The bad file is named on stderr (in the same output here); the good image still gets its line.
  std::ifstream out(dir / "out.jsonl");
  bool reported = false, predicted = false;
  for (std::string line; std::getline(out, line);) {
    reported |= line.find("not_an_image.jpg") != std::string::npos;
    predicted |= line.find("{\"image\": \"" + good + "\"") == 0;
  }
  EXPECT_TRUE(reported);
  EXPECT_TRUE(predicted);
  EXPECT_EQ(run_cli("predict --weights " + (dir / "w.h5") + " --topk 3 " + good, dir / "o"), 1);
}

}  // namespace
}  // namespace afinar
