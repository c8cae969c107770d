// Weights files of models with a new head (nn/head.h): the head in the root attributes, files
// without it reading as torchvision's head, io::load_model building the head, and the arch
// checks (model_keys, detect_arch, check_arch) accepting a non-default head the meta names while
// a .pth's keys are still judged against torchvision's own head.
#include <gtest/gtest.h>

#include "afinar/core/check.h"
#include "afinar/io/hdf5.h"
#include "afinar/io/model_file.h"
#include "afinar/io/weights.h"
#include "afinar/nn/init.h"
#include "afinar/nn/models.h"
#include "testing/compare.h"
#include "testing/temp_dir.h"

namespace afinar::io {
namespace {

nn::ModulePtr model_of(const std::string& arch, int64_t classes, const nn::HeadSpec& head) {
  nn::init::SkipInitGuard no_draws;
  return nn::create_model(arch, classes, head);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const nn::HeadSpec kMlp{.kind = "mlp", .hidden = 48, .dropout = {0.25, 0.125}};
const nn::HeadSpec kLinear{.kind = "linear"};

// model_keys is the key list of the model create_model builds, head included.
TEST(WeightsHead, ModelKeysAreTheModelsKeys) {
  for (const char* arch : {"resnet18", "resnet50", "vgg11", "vgg11_bn"})
    for (const nn::HeadSpec& head : {nn::HeadSpec{}, kLinear, kMlp}) {
      SCOPED_TRACE(std::string(arch) + " " + nn::head_str(head));
      EXPECT_EQ(model_keys(arch, 7, head), key_shapes(model_of(arch, 7, head)->state_dict()));
    }
}

TEST(WeightsHead, TheHeadTravelsInTheMetaAndLoadModelBuildsIt) {
  testing::TempDir dir;
  nn::ModulePtr model = nn::create_model("resnet18", 3, kMlp);
  WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 3;
  meta.head = kMlp;
  save_weights(dir / "mlp.h5", model->state_dict(), meta);
  const Weights w = load_weights(dir / "mlp.h5");
  EXPECT_EQ(w.meta.head, kMlp);
  const hdf5::File f = hdf5::File::open(dir / "mlp.h5");
  EXPECT_EQ(f.read_attr_string("/", "head"), "mlp");
  EXPECT_EQ(f.read_attr_int("/", "head_hidden"), 48);
  EXPECT_EQ(f.read_attr_doubles("/", "head_dropout"), (std::vector<double>{0.25, 0.125}));
  nn::ModulePtr back = load_model(w);  // strict: every key of the mlp head is there
  for (const auto& [key, t] : model->state_dict())
    testing::expect_identical(back->state_dict().at(key), t, key);
  EXPECT_EQ(detect_arch(w.state_dict, w.meta.head).arch, "resnet18");
  EXPECT_EQ(detect_arch(w.state_dict, w.meta.head).num_classes, 3);

  // The default head writes no head attribute: files from before heads read the same way.
  meta.head = {};
  save_weights(dir / "plain.h5", nn::create_model("resnet18", 3)->state_dict(), meta);
  EXPECT_FALSE(hdf5::File::open(dir / "plain.h5").has_attr("/", "head"));
  EXPECT_TRUE(load_weights(dir / "plain.h5").meta.head.is_default());

  // A meta that names no head for mlp keys: the strict load says which keys do not fit.
  save_weights(dir / "wrong.h5", model->state_dict(), meta);
  EXPECT_NE(error_of([&] { load_model(load_weights(dir / "wrong.h5")); }).find("fc.1.weight"),
            std::string::npos);
}

// Seed 000's VGG16 (linear head, 10 classes) is detected and checked when the head is named;
// with torchvision's head assumed (a .pth) the same keys are refused as before.
TEST(WeightsHead, DetectAndCheckArchWithANamedHead) {
  const KeyShapes vgg = model_keys("vgg16", 10, kLinear);
  const ArchGuess g = detect_arch(vgg, kLinear);
  EXPECT_EQ(g.arch, "vgg16");
  EXPECT_EQ(g.num_classes, 10);
  EXPECT_NO_THROW(check_arch(vgg, "vgg16", 10, kLinear));
  EXPECT_NE(error_of([&] { detect_arch(vgg); }).find("cannot tell the architecture"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_arch(vgg, "vgg16", 10); }).find("classifier.6.weight"),
            std::string::npos);

  const KeyShapes r50 = model_keys("resnet50", 5, {.kind = "mlp", .hidden = 512});
  EXPECT_EQ(detect_arch(r50, {.kind = "mlp", .hidden = 512}).arch, "resnet50");
  EXPECT_EQ(head_classes(r50, "resnet50", {.kind = "mlp", .hidden = 512}), 5);
  // Another hidden width than the meta says: the mismatched shapes are named.
  const std::string wrong_hidden =
      error_of([&] { check_arch(r50, "resnet50", 5, {.kind = "mlp", .hidden = 256}); });
  EXPECT_NE(wrong_hidden.find("fc.1.weight [512, 2048] (expected [256, 2048])"), std::string::npos)
      << wrong_hidden;
  EXPECT_NE(wrong_hidden.find("and head mlp (hidden 256"), std::string::npos) << wrong_hidden;
}

TEST(WeightsHead, ABadHeadAttributeIsAnError) {
  testing::TempDir dir;
  WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 2;
  WeightsWriter w(dir / "w.h5");
  for (const auto& [key, t] : nn::create_model("resnet18", 2)->state_dict()) w.add(key, t);
  w.file().write_attr("/", "head", std::string("transformer"));  // what commit() would refuse
  w.commit(meta);
  const std::string e = error_of([&] { load_weights(dir / "w.h5"); });
  EXPECT_NE(e.find("unknown head 'transformer'"), std::string::npos) << e;
  EXPECT_NE(e.find("w.h5"), std::string::npos) << e;
}

}  // namespace
}  // namespace afinar::io
