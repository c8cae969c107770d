// The weights file (attributes, order, dtypes, all-or-nothing writes, refusal of other files) and
// the architecture table: detect_arch and torchvision_keys against the state_dict keys and shapes
// torchvision itself produces for all 18 architectures (fixtures/pth/torchvision_archs.txt, made
// by tools/fixtures/make_pth.py; no weights), parameter counts, and the preprocessing of every
// published weights file against torchvision's transforms (goldens/weights_transforms.h5).
#include "afinar/io/weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "testing/compare.h"
#include "testing/errors.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

using testing::expect_identical;

struct ArchKeys {
  std::string arch;
  int64_t num_classes;
  io::KeyShapes keys;
};

// "# ARCH NUM_CLASSES" then "KEY [d0,d1,...]" lines.
std::vector<ArchKeys> torchvision_archs() {
  std::ifstream in(testing::test_data_path("fixtures/pth/torchvision_archs.txt"));
  std::vector<ArchKeys> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string first, second;
    ls >> first >> second;
    if (first == "#") {
      int64_t n = 0;
      ls >> n;
      out.push_back({second, n, {}});
      continue;
    }
    Shape shape;
    std::istringstream dims(second.substr(1, second.size() - 2));
    for (std::string d; std::getline(dims, d, ',');) shape.push_back(std::stoll(d));
    out.back().keys.emplace_back(first, shape);
  }
  return out;
}

using testing::error_of;

size_t files_in(const std::string& dir) {
  return size_t(std::distance(std::filesystem::directory_iterator(dir), {}));
}

TEST(Weights, RoundTripKeepsValuesOrderAndAttributes) {
  testing::TempDir dir;
  Generator gen(23);
  StateDict sd;  // deliberately not in name order
  sd.insert("features.10.weight", randn({4, 2, 3, 3}, DType::F32, gen));
  sd.insert("features.2.weight", randn({2, 3, 3, 3}, DType::F32, gen));
  sd.insert("bn.num_batches_tracked", full({}, 7, DType::I64));
  sd.insert("a.bias", randn({4}, DType::F32, gen).slice(0, 1, 3));  // a view
  sd.insert("empty", zeros({0}));
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 3;
  meta.source = "resnet18-f37072fd.pth";
  meta.source_sha256 = std::string(64, 'a');
  meta.preprocessing.resize = 232;
  meta.preprocessing.crop_mode = data::CropMode::Squash;
  meta.preprocessing.interpolation = data::Interpolation::Bicubic;
  meta.preprocessing.mean = {0, 0.25, 1e-300};
  meta.preprocessing.std = {1, 0.5, -3};
  meta.class_names = {"cat", "dög", "bird with spaces"};
  const std::string path = dir / "w.h5";
  io::save_weights(path, sd, meta);
  EXPECT_EQ(files_in(dir.path()), 1u) << "the temporary was renamed";

  const io::Weights w = io::load_weights(path);
  EXPECT_EQ(w.state_dict.keys(), sd.keys());
  for (const auto& [k, t] : sd) expect_identical(w.state_dict.at(k), t, k);
  EXPECT_EQ(w.meta.arch, "resnet18");
  EXPECT_EQ(w.meta.num_classes, 3);
  EXPECT_EQ(w.meta.source, meta.source);
  EXPECT_EQ(w.meta.source_sha256, meta.source_sha256);
  EXPECT_EQ(w.meta.preprocessing.resize, 232);
  EXPECT_EQ(w.meta.preprocessing.crop, 224);
  EXPECT_EQ(w.meta.preprocessing.crop_mode, data::CropMode::Squash);
  EXPECT_EQ(w.meta.preprocessing.interpolation, data::Interpolation::Bicubic);
  EXPECT_EQ(w.meta.preprocessing.mean, meta.preprocessing.mean);
  EXPECT_EQ(w.meta.preprocessing.std, meta.preprocessing.std);
  EXPECT_EQ(w.meta.class_names, meta.class_names);
  const io::Preprocessing alone = io::load_preprocessing(path);
  EXPECT_EQ(alone.resize, 232);
  EXPECT_EQ(alone.crop_mode, data::CropMode::Squash);
  EXPECT_EQ(alone.interpolation, data::Interpolation::Bicubic);
  EXPECT_EQ(alone.std, meta.preprocessing.std);

  // The layout DESIGN.md fixes, read with the plain HDF5 layer.
  const auto f = hdf5::File::open(path);
  EXPECT_EQ(f.read_attr_string("/", "format"), "afinar-weights");
  EXPECT_EQ(f.read_attr_int("/", "format_version"), 1);
  EXPECT_EQ(f.read_attr_int("/", "resize"), 232);
  EXPECT_EQ(f.read_attr_string("/", "crop_mode"), "squash");
  EXPECT_EQ(f.read_attr_string("/", "interpolation"), "bicubic");
  EXPECT_TRUE(f.exists("/state_dict/features.10.weight"));
  EXPECT_EQ(f.read_tensor("/state_dict/bn.num_batches_tracked").dtype(), DType::I64);
  EXPECT_EQ(f.list("/state_dict", hdf5::LinkOrder::Creation), sd.keys());
}

TEST(Weights, LoadsFilesWithFixedLengthAsciiAttributes) {
  // The form afinar's first writer made (tools/fixtures/make_weights_v1.py states the values).
  const io::Weights w =
      io::load_weights(testing::test_data_path("fixtures/weights/ascii_attrs_v1.h5"));
  EXPECT_EQ(w.meta.arch, "resnet18");
  EXPECT_EQ(w.meta.num_classes, 2);
  EXPECT_EQ(w.meta.source, "r18.pth");
  EXPECT_EQ(w.meta.source_sha256, "");
  EXPECT_EQ(w.meta.preprocessing.resize, 256);
  EXPECT_EQ(w.meta.preprocessing.crop, 224);
  EXPECT_EQ(w.meta.preprocessing.mean, (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(w.meta.preprocessing.crop_mode, data::CropMode::Center);  // before crop_mode existed
  EXPECT_EQ(w.meta.preprocessing.interpolation, data::Interpolation::Bilinear);  // and this
  EXPECT_EQ(w.meta.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(w.state_dict.keys(),
            (std::vector<std::string>{"fc.weight", "fc.bias", "bn.num_batches_tracked"}));
  expect_identical(w.state_dict.at("fc.weight"),
                   from_vector<float>({0, 0.125f, 0.25f, 0.375f, 0.5f, 0.625f}, {2, 3}),
                   "fc.weight");
  expect_identical(w.state_dict.at("fc.bias"), from_vector<float>({-1, 2}, {2}), "fc.bias");
  expect_identical(w.state_dict.at("bn.num_batches_tracked"), full({}, 7, DType::I64),
                   "num_batches_tracked");
}

TEST(Weights, RefusesFilesThatAreNotAfinarWeights) {
  testing::TempDir dir;
  {
    auto f = hdf5::File::create(dir / "plain.h5");
    f.write_tensor("/x", zeros({2}));
  }
  EXPECT_NE(
      error_of([&] { io::load_weights(dir / "plain.h5"); }).find("is not an afinar weights file"),
      std::string::npos);
  {  // as a future afinar would write it
    auto f = hdf5::File::create(dir / "v2b.h5");
    f.write_attr("/", "format", std::string("afinar-weights"));
    f.write_attr("/", "format_version", int64_t(2));
  }
  EXPECT_NE(error_of([&] { io::load_weights(dir / "v2b.h5"); }).find("format_version 2"),
            std::string::npos);
  {
    auto f = hdf5::File::create(dir / "f64.h5");
    f.write_attr("/", "format", std::string("afinar-weights"));
    f.write_attr("/", "format_version", int64_t(1));
    for (const char* a : {"arch", "source", "source_sha256"}) f.write_attr("/", a, std::string());
    f.write_attr("/", "num_classes", int64_t(2));
    f.write_attr("/", "resize", int64_t(256));
    f.write_attr("/", "crop", int64_t(224));
    f.write_attr("/", "mean", std::vector<double>{0, 0, 0});
    f.write_attr("/", "std", std::vector<double>{1, 1, 1});
    f.write_tensor("/state_dict/w", zeros({2}, DType::F64));
  }
  EXPECT_NE(error_of([&] { io::load_weights(dir / "f64.h5"); }).find("dataset w has dtype float64"),
            std::string::npos);
  EXPECT_THROW(io::load_weights(dir / "missing.h5"), Error);
}

TEST(Weights, RefusesPreprocessingNoModelCouldUse) {
  // A file from elsewhere must not make predict or eval resize to a gigapixel image, divide by
  // zero or guess at a crop mode: load_weights and load_preprocessing name the value.
  testing::TempDir dir;
  struct Case {
    std::string attr;
    std::function<void(hdf5::File&)> set;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"resize", [](hdf5::File& f) { f.write_attr("/", "resize", int64_t(1) << 40); },
       "resize must be in [1, 4096], got 1099511627776"},
      {"crop", [](hdf5::File& f) { f.write_attr("/", "crop", int64_t(0)); },
       "crop must be in [1, 4096], got 0"},
      {"std",
       [](hdf5::File& f) {
         f.write_attr("/", "std", std::vector<double>{1, 0, 1});
       },
       "std non-zero, got mean 0, std 0 for channel 1"},
      {"mean",
       [](hdf5::File& f) {
         f.write_attr("/", "mean", std::vector<double>{0, 0});
       },
       "mean and std need 3 values each (R, G, B), got 2 and 3"},
      {"crop_mode", [](hdf5::File& f) { f.write_attr("/", "crop_mode", std::string("zoom")); },
       "crop_mode must be center or squash, got 'zoom'"},
      {"interpolation",
       [](hdf5::File& f) { f.write_attr("/", "interpolation", std::string("lanczos")); },
       "interpolation must be nearest, bilinear or bicubic, got 'lanczos'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.attr);
    const std::string path = dir / (c.attr + ".h5");
    {
      auto f = hdf5::File::create(path);
      f.write_attr("/", "format", std::string("afinar-weights"));
      f.write_attr("/", "format_version", int64_t(1));
      for (const char* a : {"arch", "source", "source_sha256"}) f.write_attr("/", a, std::string());
      f.write_attr("/", "num_classes", int64_t(2));
      if (c.attr != "resize") f.write_attr("/", "resize", int64_t(256));
      if (c.attr != "crop") f.write_attr("/", "crop", int64_t(224));
      if (c.attr != "mean") f.write_attr("/", "mean", std::vector<double>{0, 0, 0});
      if (c.attr != "std") f.write_attr("/", "std", std::vector<double>{1, 1, 1});
      c.set(f);
      f.write_tensor("/state_dict/w", zeros({2}));
    }
    for (const std::string& e : {error_of([&] { io::load_weights(path); }),
                                 error_of([&] { io::load_preprocessing(path); })}) {
      EXPECT_NE(e.find(path), std::string::npos) << e;
      EXPECT_NE(e.find(c.message), std::string::npos) << e;
    }
  }
}

TEST(Weights, FailedWritesLeaveNothingBehind) {
  testing::TempDir dir;
  const std::string path = dir / "w.h5";
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 2;
  {
    io::WeightsWriter w(path);
    w.add("ok", zeros({3}));
    EXPECT_THROW(w.add("bad/key", zeros({3})), Error);
    EXPECT_THROW(w.add("", zeros({3})), Error);
    EXPECT_THROW(w.add("f64", zeros({3}, DType::F64)), Error);
    // Destroyed without commit: as when an exception leaves the importer.
  }
  EXPECT_EQ(files_in(dir.path()), 0u);
  StateDict sd;
  sd.insert("w", zeros({3}));
  meta.class_names = {"only one"};  // 1 name for 2 classes
  EXPECT_THROW(io::save_weights(path, sd, meta), Error);
  EXPECT_EQ(files_in(dir.path()), 0u);
  EXPECT_THROW(io::save_weights(dir / "no/such/dir/w.h5", sd, {}), Error);
}

TEST(Weights, DetectArchOnEveryTorchvisionArchitecture) {
  const auto archs = torchvision_archs();
  ASSERT_EQ(archs.size(), 18u);
  for (const ArchKeys& a : archs) {
    const io::ArchGuess g = io::detect_arch(a.keys);
    EXPECT_EQ(g.arch, a.arch);
    EXPECT_EQ(g.num_classes, a.num_classes) << a.arch;
    // afinar's table is torchvision's: same keys, same order, same shapes.
    EXPECT_EQ(io::torchvision_keys(a.arch, a.num_classes), a.keys) << a.arch;
    // Files saved before PyTorch 0.4.1 have no num_batches_tracked.
    io::KeyShapes old;
    for (const auto& ks : a.keys)
      if (ks.first.find("num_batches_tracked") == std::string::npos) old.push_back(ks);
    EXPECT_EQ(io::detect_arch(old).arch, a.arch);
  }
  const auto count = [&](const std::string& arch) {
    for (const ArchKeys& a : archs)
      if (a.arch == arch) return io::parameter_count(a.keys);
    return int64_t(-1);
  };
  // torchvision's published counts (1000 classes; the weights enums' num_params).
  EXPECT_EQ(count("vgg16"), 138357544);
  EXPECT_EQ(count("resnet18"), 11689512);
  EXPECT_EQ(count("resnet50"), 25557032);
  EXPECT_EQ(count("resnext50_32x4d"), 25028904);
  EXPECT_EQ(count("resnext101_64x4d"), 83455272);
  EXPECT_EQ(count("wide_resnet101_2"), 126886696);
  std::vector<std::string> names;
  for (const ArchKeys& a : archs) names.push_back(a.arch);
  EXPECT_EQ(io::supported_archs(), names);  // the same order as torchvision's modules
}

TEST(Weights, ArchMismatchesAreExplained) {
  const auto archs = torchvision_archs();
  const auto keys_of = [&](const std::string& arch) {
    for (const ArchKeys& a : archs)
      if (a.arch == arch) return a.keys;
    return io::KeyShapes{};
  };
  io::KeyShapes r18 = keys_of("resnet18");
  EXPECT_NE(error_of([&] { io::check_arch(r18, "resnet34", 1000); }).find("missing"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              io::check_arch(r18, "resnet18", 10);
            }).find("fc.weight [1000, 512] (expected [10, 512])"),
            std::string::npos);
  EXPECT_NE(error_of([&] { io::head_classes(r18, "vgg16"); }).find("classifier.6.weight"),
            std::string::npos);
  io::KeyShapes missing = r18;
  missing.erase(missing.begin() + 10);
  EXPECT_NE(error_of([&] { io::detect_arch(missing); }).find("missing 1 keys"), std::string::npos);
  io::KeyShapes extra = r18;
  extra.emplace_back("fc2.weight", Shape{3, 3});
  EXPECT_NE(error_of([&] { io::detect_arch(extra); }).find("unexpected 1 keys (fc2.weight)"),
            std::string::npos);
  io::KeyShapes reshaped = r18;
  reshaped[0].second = {64, 1, 7, 7};  // a grayscale stem
  EXPECT_NE(error_of([&] {
              io::detect_arch(reshaped);
            }).find("conv1.weight [64, 1, 7, 7] (expected [64, 3, 7, 7])"),
            std::string::npos);
  io::KeyShapes vgg = keys_of("vgg16");
  vgg.erase(vgg.begin(), vgg.begin() + 2);  // drop one convolution
  EXPECT_NE(error_of([&] { io::detect_arch(vgg); }).find("12 convolutions"), std::string::npos);
  EXPECT_NE(error_of([&] {
              io::detect_arch(io::KeyShapes{{"encoder.w", {3}}});
            }).find("cannot tell the architecture"),
            std::string::npos);
  EXPECT_THROW(io::torchvision_keys("alexnet", 1000), Error);
  EXPECT_THROW(io::detect_arch(io::KeyShapes{}), Error);
}

TEST(Weights, PreprocessingFromTorchvisionTransforms) {
  const auto cases = testing::load_goldens("weights_transforms");
  ASSERT_EQ(cases.size(), 26u);  // every published ImageNet weight of the 18 architectures
  for (const auto& c : cases) {
    // torchvision's file name, and the same name in a folder.
    for (const std::string& source : {c.name, "/downloads/" + c.name}) {
      const io::Preprocessing p = io::torchvision_preprocessing(source);
      EXPECT_EQ(p.resize, c.tensor("resize").item<int64_t>()) << source;
      EXPECT_EQ(p.crop, c.tensor("crop").item<int64_t>()) << source;
      EXPECT_EQ(p.mean, c.tensor("mean").to_vector<double>()) << source;
      EXPECT_EQ(p.std, c.tensor("std").to_vector<double>()) << source;
    }
  }
  // A file of one's own: torchvision's usual transform.
  const io::Preprocessing p = io::torchvision_preprocessing("mine.pth");
  EXPECT_EQ(p.resize, 256);
  EXPECT_EQ(p.crop, 224);
  EXPECT_EQ(p.mean, (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(p.std, (std::vector<double>{0.229, 0.224, 0.225}));
}

TEST(Weights, SummaryCountsParametersNotBuffers) {
  for (const ArchKeys& a : torchvision_archs()) {
    if (a.arch != "resnet18") continue;
    EXPECT_EQ(io::weights_summary("resnet18", a.keys),
              "resnet18: " + std::to_string(a.keys.size()) + " tensors, 11,689,512 params");
  }
  EXPECT_EQ(io::weights_summary("x", {{"a", {2, 3}}, {"bn.running_mean", {9}}}),
            "x: 2 tensors, 6 params");
}

}  // namespace
}  // namespace afinar
