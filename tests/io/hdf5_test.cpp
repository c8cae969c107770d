#include "afinar/io/hdf5.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/fixtures.h"

namespace afinar {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("afinar_test_" + name)).string();
}

TEST(Hdf5, TensorsRoundTripEveryDtypeAndShape) {
  const std::string path = temp_path("roundtrip.h5");
  Generator gen(3);
  Tensor f32 = randn({2, 3, 4}, DType::F32, gen);
  Tensor f64 = randn({5}, DType::F64, gen);
  Tensor i64 = from_vector<int64_t>({-1, 0, int64_t(1) << 40}, {3});
  Tensor i32 = from_vector<int32_t>({7, -7}, {1, 2});
  Tensor u8 = from_vector<uint8_t>({0, 128, 255}, {3});
  Tensor scalar = full({}, 42, DType::I64);  // like num_batches_tracked
  Tensor empty0 = zeros({0, 3});
  {
    auto f = hdf5::File::create(path);
    f.write_tensor("/state_dict/layer1.0.conv1.weight", f32);
    f.write_tensor("/a/f64", f64);
    f.write_tensor("/a/i64", i64);
    f.write_tensor("/a/i32", i32);
    f.write_tensor("/a/u8", u8);
    f.write_tensor("/a/scalar", scalar);
    f.write_tensor("/a/empty", empty0);
    f.write_tensor("/a/transposed",
                   f32.transpose(0, 2));  // non-contiguous: written in logical order
  }
  auto f = hdf5::File::open(path);
  EXPECT_EQ(f.list("/"), (std::vector<std::string>{"a", "state_dict"}));
  EXPECT_EQ(f.list("/state_dict"), (std::vector<std::string>{"layer1.0.conv1.weight"}));
  auto same = [](const Tensor& a, const Tensor& b) {
    EXPECT_EQ(a.dtype(), b.dtype());
    EXPECT_EQ(a.shape(), b.shape());
    EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
  };
  same(f.read_tensor("/state_dict/layer1.0.conv1.weight"), f32);
  same(f.read_tensor("/a/f64"), f64);
  same(f.read_tensor("/a/i64"), i64);
  same(f.read_tensor("/a/i32"), i32);
  same(f.read_tensor("/a/u8"), u8);
  same(f.read_tensor("/a/scalar"), scalar);
  same(f.read_tensor("/a/empty"), empty0);
  same(f.read_tensor("/a/transposed"), f32.transpose(0, 2).contiguous());
  EXPECT_TRUE(f.exists("/a/u8"));
  EXPECT_FALSE(f.exists("/a/missing"));
  EXPECT_FALSE(f.exists("/nope/deeper"));
  std::filesystem::remove(path);
}

TEST(Hdf5, AttributesRoundTrip) {
  const std::string path = temp_path("attrs.h5");
  {
    auto f = hdf5::File::create(path);
    f.write_attr("/", "format", std::string("afinar-weights"));
    f.write_attr("/", "format_version", int64_t(1));
    f.write_attr("/", "momentum", 0.1);
    f.write_attr("/", "mean", std::vector<double>{0.485, 0.456, 0.406});
    f.write_attr("/", "empty", std::string());
    f.create_group("/g/h");
    f.write_attr("/g/h", "k", int64_t(-3));
  }
  auto f = hdf5::File::open(path);
  EXPECT_EQ(f.read_attr_string("/", "format"), "afinar-weights");  // the last character survives
  EXPECT_EQ(f.read_attr_int("/", "format_version"), 1);
  EXPECT_EQ(f.read_attr_double("/", "momentum"), 0.1);
  EXPECT_EQ(f.read_attr_doubles("/", "mean"), (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(f.read_attr_string("/", "empty"), "");
  EXPECT_EQ(f.read_attr_int("/g/h", "k"), -3);
  EXPECT_TRUE(f.has_attr("/", "format"));
  EXPECT_FALSE(f.has_attr("/", "nope"));
  EXPECT_FALSE(f.has_attr("/missing", "format"));
  EXPECT_THROW(f.read_attr_int("/", "nope"), Error);
  EXPECT_THROW(f.read_attr_string("/", "momentum"), Error);  // not a string
  std::filesystem::remove(path);
}

TEST(Hdf5, StringAttributesAreVariableLengthUtf8) {
  const std::string path = temp_path("utf8.h5");
  const std::string text = "caf\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac";  // "café — 日本"
  {
    auto f = hdf5::File::create(path);
    f.write_attr("/", "arch", text);
    f.write_attr("/", "names", std::vector<std::string>{text, "", "b"});
    EXPECT_THROW(f.write_attr("/", "nul", std::string("a\0b", 3)), Error);  // would be cut at a
    EXPECT_THROW(f.write_attr("/", "nul", std::vector<std::string>{std::string("a\0b", 3)}), Error);
  }
  auto f = hdf5::File::open(path);
  EXPECT_EQ(f.read_attr_string("/", "arch"), text);
  EXPECT_EQ(f.read_attr_strings("/", "arch"), std::vector<std::string>{text});  // a scalar is one
  EXPECT_EQ(f.read_attr_strings("/", "names"), (std::vector<std::string>{text, "", "b"}));
  EXPECT_FALSE(f.has_attr("/", "nul"));
  // An array where one value is expected is an error, never a read past a one-value buffer.
  EXPECT_THROW(f.read_attr_string("/", "names"), Error);
  std::filesystem::remove(path);
}

TEST(Hdf5, ReadsFixedLengthAsciiStringAttributes) {
  // Written by h5py as numpy.bytes_ (tools/fixtures/make_weights_v1.py): fixed-length ASCII,
  // NULL-padded, the size of the string itself — the form earlier afinar versions wrote.
  const auto f = hdf5::File::open(testing::test_data_path("fixtures/weights/ascii_attrs_v1.h5"));
  EXPECT_EQ(f.read_attr_string("/", "format"), "afinar-weights");  // the last character survives
  EXPECT_EQ(f.read_attr_string("/", "source_sha256"), "");
  EXPECT_EQ(f.read_attr_strings("/", "arch"), std::vector<std::string>{"resnet18"});
  EXPECT_THROW(f.read_attr_int("/", "mean"), Error);  // three values, not one
}

TEST(Hdf5, MissingOrInvalidFilesAreClearErrors) {
  EXPECT_THROW(hdf5::File::open(temp_path("does-not-exist.h5")), Error);
  const std::string junk = temp_path("junk.h5");
  { std::ofstream(junk) << "not an hdf5 file"; }
  try {
    hdf5::File::open(junk);
    FAIL() << "opening a non-HDF5 file must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos) << e.what();
  }
  std::filesystem::remove(junk);
  EXPECT_THROW(hdf5::File::create("/nonexistent-dir/x.h5"), Error);
  const std::string path = temp_path("dup.h5");
  auto f = hdf5::File::create(path);
  f.write_tensor("/x", zeros({2}));
  EXPECT_THROW(f.write_tensor("/x", zeros({2})), Error);  // never silently overwritten
  EXPECT_THROW(f.read_tensor("/y"), Error);
  EXPECT_THROW(f.write_tensor("/z", empty({2}, DType::BF16)), Error);
  std::filesystem::remove(path);
}

// The message of the afinar::Error `f` throws ("" when it throws nothing).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Hostile weights files found by fuzzing (tests/fuzz/make_hostile_h5.c writes them): a few KB
// that declare terabytes must be refused before the tensor is allocated, not fail in malloc.
TEST(Hdf5, RefusesDatasetsLargerThanTheFileCanHold) {
  for (const char* name : {"huge_chunked.h5", "huge_contiguous.h5"}) {
    const std::string path = testing::test_data_path(std::string("../fuzz/weights/") + name);
    const auto f = hdf5::File::open(path);
    const std::string msg = error_of([&] { f.read_tensor("/state_dict/fc.weight"); });
    EXPECT_NE(msg.find("more than the file can hold"), std::string::npos) << name << ": " << msg;
  }
}

// External storage makes HDF5 read a raw file named inside the weights file (here
// /etc/hostname): any file on disk could be read into a tensor. Refused, naming the reason.
TEST(Hdf5, RefusesDatasetsStoredInExternalFiles) {
  const auto f = hdf5::File::open(testing::test_data_path("../fuzz/weights/external.h5"));
  const std::string msg = error_of([&] { f.read_tensor("/state_dict/fc.weight"); });
  EXPECT_NE(msg.find("external files"), std::string::npos) << msg;
}

}  // namespace
}  // namespace afinar
