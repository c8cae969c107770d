// `afinar preprocess` end to end: the real executable on committed images, its HDF5 output
// against torchvision's pipelines on PIL's decode of the same files (tools/goldens/preprocess.py:
// the ImageNet weights' Resize + CenterCrop + Normalize, the same with a bicubic Resize, and seed
// 001's squash to a square with pixels / 255).
// Covers decoding and the eval transforms together, and the command's I/O.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iomanip>

#include "afinar/io/hdf5.h"
#include "testing/cli.h"
#include "testing/compare.h"
#include "testing/fixtures.h"

namespace afinar {
namespace {

using testing::run_cli;

// "0.485,0.456,0.406": a flag value that reads back as the same doubles.
std::string comma_list(const std::vector<double>& v) {
  std::string s;
  for (double x : v) {
    if (!s.empty()) s += ',';
    s += detail::concat(std::setprecision(17), x);
  }
  return s;
}

TEST(Preprocess, CliMatchesTorchvisionPipeline) {
  const auto dir = std::filesystem::temp_directory_path() / "afinar_preprocess_test";
  std::filesystem::create_directories(dir);
  for (const auto& c : testing::load_goldens("preprocess")) {
    const std::string image =
        testing::test_data_path(c.file->read_attr_string("/" + c.name, "path"));
    const std::string out = (dir / (c.name + ".h5")).string();
    std::filesystem::remove(out);
    const std::string crop_mode = c.file->read_attr_string("/" + c.name, "crop_mode");
    const std::string interpolation = c.file->read_attr_string("/" + c.name, "interpolation");
    ASSERT_EQ(run_cli("preprocess " + image + " --resize " + std::to_string(c.attr_int("resize")) +
                      " --crop " + std::to_string(c.attr_int("crop")) + " --crop-mode " +
                      crop_mode + " --interpolation " + interpolation + " --mean " +
                      comma_list(c.attr_doubles("mean")) + " --std " +
                      comma_list(c.attr_doubles("std")) + " -o " + out),
              0)
        << c.name;
    const hdf5::File written = hdf5::File::open(out);
    EXPECT_EQ(written.read_attr_string("/", "interpolation"), interpolation) << c.name;
    const Tensor got = written.read_tensor("/input");
    // Same bytes after decode and resize (both exact), then one float32 division and a
    // normalisation: a few float32 ulps of values up to ~2.6.
    EXPECT_ALLCLOSE(got, c.tensor("input"), testing::tolerance_for(DType::F32, 1, 32)) << c.name;
  }
  std::filesystem::remove_all(dir);
}

TEST(Preprocess, CliFailsCleanlyOnBadInput) {
  const auto dir = std::filesystem::temp_directory_path() / "afinar_preprocess_bad";
  std::filesystem::create_directories(dir);
  const std::string out = (dir / "out.h5").string();
  EXPECT_EQ(run_cli("preprocess " + testing::test_data_path("fixtures/image_folder_tree.txt") +
                    " -o " + out),
            1);                                // not an image: afinar::Error, exit code 1
  EXPECT_FALSE(std::filesystem::exists(out));  // no partial output left behind
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
  EXPECT_NE(run_cli("preprocess /nonexistent.jpg -o " + out), 0);
  EXPECT_NE(run_cli("preprocess"), 0);  // missing arguments
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace afinar
