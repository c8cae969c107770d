// data/preprocessing.h: the crop-mode and interpolation names, the checks every reader of a
// preprocessing runs (recipes, flags, weights files) and the torchvision spelling logs and reports
// print. What the pipeline computes is checked against torchvision in transforms_test.cpp and
// preprocess_test.cpp.
#include "afinar/data/preprocessing.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "testing/errors.h"

namespace afinar::data {
namespace {

using testing::error_of;

TEST(Preprocessing, CropModeNamesRoundTrip) {
  for (CropMode mode : {CropMode::Center, CropMode::Squash}) {
    EXPECT_TRUE(is_crop_mode(crop_mode_name(mode)));
    EXPECT_EQ(crop_mode_of(crop_mode_name(mode)), mode);
  }
  EXPECT_FALSE(is_crop_mode("Center"));  // names are exact, as in a recipe
  EXPECT_NE(error_of([] {
              crop_mode_of("stretch");
            }).find("unknown crop mode 'stretch': center (Resize of the shorter side) or squash"),
            std::string::npos);
}

TEST(Preprocessing, InterpolationNamesAreTorchvisions) {
  const std::vector<std::pair<Interpolation, std::string>> names = {
      {Interpolation::Nearest, "nearest"},
      {Interpolation::Bilinear, "bilinear"},
      {Interpolation::Bicubic, "bicubic"}};
  for (const auto& [mode, name] : names) {
    EXPECT_EQ(interpolation_name(mode), name);
    EXPECT_TRUE(is_interpolation(name));
    EXPECT_EQ(interpolation_of(name), mode);
  }
  EXPECT_FALSE(is_interpolation("BICUBIC"));  // InterpolationMode's values, not its names
  EXPECT_NE(error_of([] {
              interpolation_of("lanczos");
            }).find("unknown interpolation 'lanczos': nearest, bilinear or bicubic"),
            std::string::npos);
}

TEST(Preprocessing, DefaultsAreTorchvisionsImageNetTransform) {
  const Preprocessing p;
  EXPECT_EQ(preprocessing_str(p),
            "Resize(256) -> CenterCrop(224) -> ToTensor -> Normalize(mean=[0.485, 0.456, 0.406], "
            "std=[0.229, 0.224, 0.225])");
  EXPECT_EQ(error_of([&] { check_preprocessing(p, "x"); }), "");
}

TEST(Preprocessing, SquashPrintsTorchvisionsSquareResize) {
  const Preprocessing p{.resize = 224,
                        .crop = 224,
                        .crop_mode = CropMode::Squash,
                        .mean = {0, 0, 0},
                        .std = {1, 1, 1}};
  EXPECT_EQ(preprocessing_str(p),
            "Resize((224, 224)) -> CenterCrop(224) -> ToTensor -> Normalize(mean=[0, 0, 0], "
            "std=[1, 1, 1])");
  EXPECT_EQ(
      preprocessing_str({.crop_mode = CropMode::Squash, .interpolation = Interpolation::Nearest}),
      "Resize((256, 256), interpolation=nearest) -> CenterCrop(224) -> ToTensor -> "
      "Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])");
}

TEST(Preprocessing, ChecksNameTheSourceAndTheValue) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Row {
    Preprocessing p;
    std::string message;
  };
  const std::vector<Row> rows = {
      {{.resize = 0}, "w.h5: resize must be in [1, 4096], got 0"},
      {{.resize = 4097}, "w.h5: resize must be in [1, 4096], got 4097"},
      {{.crop = -3}, "w.h5: crop must be in [1, 4096], got -3"},
      {{.mean = {0.5, 0.5}}, "w.h5: mean and std need 3 values each (R, G, B), got 2 and 3"},
      {{.std = {}}, "w.h5: mean and std need 3 values each (R, G, B), got 3 and 0"},
      {{.mean = {0, nan, 0}}, "got mean nan, std 0.224 for channel 1"},
      {{.std = {1, 1, inf}}, "got mean 0.406, std inf for channel 2"},
      {{.std = {0, 1, 1}}, "std non-zero, got mean 0.485, std 0 for channel 0"},
  };
  for (const auto& row : rows) {
    const std::string msg = error_of([&] { check_preprocessing(row.p, "w.h5"); });
    EXPECT_NE(msg.find(row.message), std::string::npos) << msg;
  }
  // The bounds themselves are allowed.
  EXPECT_EQ(error_of([] { check_preprocessing({.resize = 4096, .crop = 1}, "w.h5"); }), "");
}

}  // namespace
}  // namespace afinar::data
