// The .pth reader against files torch 1.13 wrote or loads (tests/data/fixtures/pth, made by
// tools/fixtures/make_pth.py): every tensor equals, bit for bit, what torch.load returned for the
// same file (expected.h5), for both containers, the tar container, every storage dtype, views,
// _rebuild_tensor, torch 0.1.10's FloatTensor encoding, parameters and checkpoints. Then the bad
// inputs: malicious pickles (nothing runs), truncation at every byte, corrupted bytes, storages
// shorter than declared, tensors outside their storage, sizes that overflow; the writer's round
// trip; torchvision's file-name hash check.
#include "afinar/io/torch_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "afinar/io/hdf5.h"
#include "afinar/io/sha256.h"
#include "afinar/io/zip.h"
#include "testing/compare.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

using testing::expect_identical;

using io::load_torch_file;

std::string fixture(const std::string& name) {
  return testing::test_data_path("fixtures/pth/" + name);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string error_of(const std::string& path) {
  try {
    load_torch_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& path, const std::string& fragment) {
  const std::string msg = error_of(path);
  EXPECT_NE(msg.find(fragment), std::string::npos) << "wanted '" << fragment << "', got: " << msg;
}

TEST(TorchFile, FixturesEqualWhatTorchLoadsBitForBit) {
  const auto expected = hdf5::File::open(fixture("expected.h5"));
  const std::vector<std::string> names = expected.list("/");
  EXPECT_EQ(names.size(), 10u);
  for (const std::string& name : names) {
    const std::string path = fixture(name + ".pth");
    const StateDict got = load_torch_file(path);
    const std::vector<std::string> keys = expected.read_attr_strings("/" + name, "keys");
    EXPECT_EQ(got.keys(), keys) << name << ": keys and their order";
    for (const std::string& key : keys) {
      if (!got.contains(key)) continue;
      expect_identical(got.at(key), expected.read_tensor("/" + name + "/" + key),
                       name + ": " + key);
    }
    const std::string container = name.substr(name.rfind('_') + 1);
    EXPECT_STREQ(io::TorchFile::open(path).container(), container.c_str()) << name;
  }
}

TEST(TorchFile, InPlaceOnlyForContiguousFloat32) {
  const io::TorchFile f = io::TorchFile::open(fixture("mixed_zip.pth"));
  std::map<std::string, bool> in_place;
  for (const io::TorchTensorRecord& r : f.tensors()) {
    const auto bytes = r.in_place();
    in_place[r.key] = bytes.has_value();
    if (!bytes) continue;
    // The bytes served from the mapping are the converted tensor's bytes.
    const Tensor t = r.materialize();
    ASSERT_EQ(bytes->size, t.nbytes()) << r.key;
    if (bytes->size > 0) {
      EXPECT_EQ(std::memcmp(bytes->data, t.raw_data(), bytes->size), 0) << r.key;
    }
  }
  EXPECT_TRUE(in_place.at("0.weight"));
  EXPECT_TRUE(in_place.at("view.base"));
  EXPECT_TRUE(in_place.at("1.num_batches_tracked"));  // int64 stays int64
  EXPECT_TRUE(in_place.at("scalar"));
  EXPECT_FALSE(in_place.at("view.slice"));       // offset 8, row stride 6: not contiguous
  EXPECT_FALSE(in_place.at("view.transposed"));  // strides (1, 6)
  EXPECT_FALSE(in_place.at("view.expanded"));    // stride 0
  EXPECT_FALSE(in_place.at("dtype.float64"));    // converted
  EXPECT_FALSE(in_place.at("dtype.int64"));      // int64 that is not a counter becomes float32
  // Big-endian storages are swapped, never used in place.
  const io::TorchFile big = io::TorchFile::open(fixture("big_endian_zip.pth"));
  for (const auto& r : big.tensors()) EXPECT_FALSE(r.in_place().has_value()) << r.key;
}

TEST(TorchFile, MaliciousPicklesAreRefusedByNameAndNothingRuns) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"malicious_posix_system_zip", "posix.system"},
      {"malicious_os_system_legacy", "os.system"},
      {"malicious_eval_legacy", "__builtin__.eval"}};  // Python 3 writes builtins as
                                                       // __builtin__ at protocol 2
  for (const auto& [name, global] : cases) {
    // make_pth.py checked that unpickling these in Python creates the marker file.
    const std::string marker =
        "/tmp/afinar_pwned_" + name.substr(10, name.rfind('_') - 10);  // strip malicious_, _zip
    std::filesystem::remove(marker);
    expect_error(fixture(name + ".pth"), "refusing to load global '" + global + "'");
    EXPECT_FALSE(std::filesystem::exists(marker)) << name << ": the payload ran";
  }
}

// Every prefix of the file shorter than its meaningful content is an error, never a crash.
void expect_every_truncation_fails(const std::string& name, size_t content_end) {
  testing::TempDir dir;
  const std::string bytes = read_bytes(fixture(name));
  ASSERT_LE(content_end, bytes.size());
  for (size_t len = 0; len < content_end; ++len) {
    write_bytes(dir / "cut.pth", bytes.substr(0, len));
    EXPECT_THROW(load_torch_file(dir / "cut.pth"), Error) << name << " cut at " << len;
  }
}

TEST(TorchFile, EveryTruncationIsAnError) {
  for (const char* name : {"mixed_zip.pth", "mixed_legacy.pth", "floattensor_legacy.pth",
                           "rebuild_tensor_legacy.pth", "view_metadata_legacy.pth"})
    expect_every_truncation_fails(name, read_bytes(fixture(name)).size());
  // A tar archive ends in zero blocks; everything up to its last non-zero byte is content.
  const std::string tar = read_bytes(fixture("legacy_tar.pth"));
  expect_every_truncation_fails("legacy_tar.pth", tar.find_last_not_of('\0') + 1);
}

TEST(TorchFile, CorruptBytesGiveErrorsNotCrashes) {
  // Each byte in turn inverted: either the file still loads (a byte of tensor data, an unused
  // field) or afinar::Error; nothing else escapes and nothing is read outside the file.
  testing::TempDir dir;
  for (const char* name : {"mixed_legacy.pth", "floattensor_legacy.pth", "legacy_tar.pth",
                           "view_metadata_legacy.pth", "mixed_zip.pth"}) {
    const std::string bytes = read_bytes(fixture(name));
    int errors = 0;
    for (size_t pos = 0; pos < bytes.size(); ++pos) {
      std::string bad = bytes;
      bad[pos] = char(~bad[pos]);
      write_bytes(dir / "bad.pth", bad);
      try {
        load_torch_file(dir / "bad.pth");
      } catch (const Error&) {
        ++errors;
      }
    }
    EXPECT_GT(errors, 50) << name;
  }
}

// ---- hand-built archives for the checks a real file never trips ----

// data.pkl of {"t": tensor(storage "0" of `numel` elements, offset, size, stride)}.
std::string one_tensor_pickle(const std::vector<int64_t>& size, const std::vector<int64_t>& stride,
                              int64_t offset, int64_t numel) {
  io::PickleWriter w;
  w.empty_dict();
  w.mark();
  w.string("t");
  w.global("torch._utils", "_rebuild_tensor_v2");
  w.mark();
  w.mark();
  w.string("storage");
  w.global("torch", "FloatStorage");
  w.string("0");
  w.string("cpu");
  w.integer(numel);
  w.tuple_from_mark();
  w.binpersid();
  w.integer(offset);
  w.int_tuple(size);
  w.int_tuple(stride);
  w.boolean(false);
  w.none();
  w.tuple_from_mark();
  w.reduce();
  w.setitems();
  w.stop();
  return w.bytes();
}

void write_archive(const std::string& path, const std::string& pkl, const std::string& storage) {
  io::ZipWriter w(path);
  w.add("t/data.pkl", pkl.data(), pkl.size());
  w.add("t/data/0", storage.data(), storage.size());
  w.add("t/version", "3\n", 2);
  w.finish();
}

TEST(TorchFile, TensorsMustLieInsideTheirStorage) {
  testing::TempDir dir;
  const std::string path = dir / "t.pth";
  const std::string ten_floats(40, '\0');
  write_archive(path, one_tensor_pickle({2, 5}, {5, 1}, 0, 10), ten_floats);
  EXPECT_EQ(load_torch_file(path).at("t").shape(), (Shape{2, 5}));
  write_archive(path, one_tensor_pickle({3, 4}, {4, 1}, 0, 10), ten_floats);
  expect_error(path, "reads storage element 11 but storage '0' holds only 10 elements");
  write_archive(path, one_tensor_pickle({5}, {1}, 6, 10), ten_floats);
  expect_error(path, "reads storage element 10");
  write_archive(path, one_tensor_pickle({2}, {-1}, 5, 10), ten_floats);
  expect_error(path, "negative values");
  write_archive(path, one_tensor_pickle({2}, {1}, -1, 10), ten_floats);
  expect_error(path, "negative storage offset");
  write_archive(path, one_tensor_pickle({int64_t(1) << 40, int64_t(1) << 40}, {1, 1}, 0, 10),
                ten_floats);
  expect_error(path, "overflow");
  write_archive(path, one_tensor_pickle({3}, {int64_t(1) << 62}, 0, 10), ten_floats);
  expect_error(path, "overflow");
  write_archive(path, one_tensor_pickle({2, 5}, {5}, 0, 10), ten_floats);
  expect_error(path, "has 2 sizes but 1 strides");
  // The storage entry shorter than the persistent id declares.
  write_archive(path, one_tensor_pickle({2, 5}, {5, 1}, 0, 10), std::string(36, '\0'));
  expect_error(path, "declares 10 FloatStorage elements (40 bytes) but entry t/data/0 holds 36");
  write_archive(path, one_tensor_pickle({2}, {1}, 0, int64_t(1) << 62), ten_floats);
  expect_error(path, "overflow");
  // Zero strides (an expanded view) address one element many times: materialised, within reason.
  write_archive(path, one_tensor_pickle({3, 2}, {0, 1}, 0, 10), ten_floats);
  EXPECT_EQ(load_torch_file(path).at("t").shape(), (Shape{3, 2}));
  write_archive(path, one_tensor_pickle({int64_t(1) << 40, int64_t(1) << 22}, {0, 0}, 0, 10),
                ten_floats);
  expect_error(path, "overflow");
  // 2^50 elements from one stored float: refused before anything is allocated.
  write_archive(path, one_tensor_pickle({int64_t(1) << 25, int64_t(1) << 25}, {0, 0}, 0, 10),
                ten_floats);
  expect_error(path, "views that repeat storage elements may add at most 16777216");
  // An empty tensor addresses nothing, whatever its offset.
  write_archive(path, one_tensor_pickle({0, 5}, {5, 1}, 10, 10), ten_floats);
  EXPECT_EQ(load_torch_file(path).at("t").numel(), 0);
}

TEST(TorchFile, LegacyStorageShorterThanDeclared) {
  // The element count before the first storage's bytes, lowered by one.
  testing::TempDir dir;
  std::string bytes = read_bytes(fixture("rebuild_tensor_legacy.pth"));
  const std::string path = fixture("rebuild_tensor_legacy.pth");
  size_t pos = 0;
  const io::ByteSpan all{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &path};
  for (int i = 0; i < 5; ++i)  // magic, protocol, sys_info, object, key list
    pos += io::Pickle::parse(all.sub(pos, bytes.size() - pos, "pickle"), path).consumed();
  bytes[pos] = char(bytes[pos] - 1);
  write_bytes(dir / "short.pth", bytes);
  expect_error(dir / "short.pth", "elements but its data holds");
  bytes[pos] = char(bytes[pos] + 1);
  write_bytes(dir / "long.pth", bytes + "extra");  // trailing bytes after the storages are fine
  EXPECT_EQ(load_torch_file(dir / "long.pth").size(), 4u);
}

TEST(TorchFile, OtherFilesAreRefusedWithTheReason) {
  testing::TempDir dir;
  write_bytes(dir / "text.pth", "hello world, not a model");
  expect_error(dir / "text.pth", "not a torch.save file (it starts with bytes 68 65 6c 6c");
  write_bytes(dir / "empty.pth", "");
  expect_error(dir / "empty.pth", "is empty");
  expect_error(dir / "missing.pth", "cannot open");
  write_bytes(dir / "magic.pth", "\x80\x02K\x05.");
  expect_error(dir / "magic.pth", "it starts with a pickle of int 5");
  io::PickleWriter list;  // a pickle whose object is not a dict
  list.int_tuple({1, 2});
  list.stop();
  write_archive(dir / "tuple.pth", list.bytes(), "");
  expect_error(dir / "tuple.pth", "holds tuple of 2, not a state_dict");
  io::PickleWriter not_tensor;
  not_tensor.empty_dict();
  not_tensor.string("epoch");
  not_tensor.integer(5);
  not_tensor.setitems();  // no MARK: SETITEMS needs one
  not_tensor.stop();
  write_archive(dir / "nomark.pth", not_tensor.bytes(), "");
  expect_error(dir / "nomark.pth", "no MARK");
  io::PickleWriter epoch;
  epoch.empty_dict();
  epoch.mark();
  epoch.string("epoch");
  epoch.integer(5);
  epoch.setitems();
  epoch.stop();
  write_archive(dir / "epoch.pth", epoch.bytes(), "");
  expect_error(dir / "epoch.pth", "'epoch' holds int 5, not a tensor");
}

TEST(TorchFile, SaveThenLoadIsExact) {
  testing::TempDir dir;
  Generator gen(17);
  StateDict sd;
  sd.insert("features.0.weight", randn({8, 3, 3, 3}, DType::F32, gen));
  sd.insert("features.0.bias", randn({8}, DType::F32, gen));
  sd.insert("transposed", randn({4, 6}, DType::F32, gen).transpose(0, 1));  // non-contiguous
  sd.insert("bn.num_batches_tracked", full({}, 1234567890123, DType::I64));
  sd.insert("scalar", full({}, -0.0));
  sd.insert("empty", zeros({0, 7}));
  const std::string path = dir / "model.pth";
  io::save_torch_file(path, sd);
  const StateDict back = load_torch_file(path);
  ASSERT_EQ(back.keys(), sd.keys());
  for (const auto& [key, t] : sd) expect_identical(back.at(key), t, key);
  io::ZipReader zip(io::MappedFile::open(path));
  EXPECT_EQ(zip.entries().front().name, "model/data.pkl");  // torch names the folder by the stem
  EXPECT_EQ(zip.read(zip.at("model/version")).view(), "3\n");
  EXPECT_EQ(zip.read(zip.at("model/byteorder")).view(), "little");
  for (const auto& e : zip.entries()) EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
  // Nothing else is left in the folder (the temporary was renamed).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
  EXPECT_THROW(io::save_torch_file(dir / "no/such/folder/x.pth", sd), Error);
}

TEST(TorchFile, TorchvisionHashCheck) {
  testing::TempDir dir;
  const std::string content = "pretend weights";
  const std::string sha = io::sha256_hex(content);
  const std::string good = dir / ("resnet18-" + sha.substr(0, 8) + ".pth");
  const std::string bad = dir / "resnet18-deadbeef.pth";
  const std::string plain = dir / "my_model.pth";
  for (const auto& p : {good, bad, plain}) write_bytes(p, content);

  const io::HashCheck ok = io::verify_torchvision_hash(good);
  EXPECT_TRUE(ok.has_hash);
  EXPECT_EQ(ok.name_hash, sha.substr(0, 8));
  EXPECT_EQ(ok.sha256, sha);
  try {
    io::verify_torchvision_hash(bad);
    FAIL() << "a wrong hash passed";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(sha), std::string::npos) << msg;
    EXPECT_NE(msg.find("deadbeef"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--no-verify"), std::string::npos) << msg;
  }
  const io::HashCheck none = io::verify_torchvision_hash(plain);
  EXPECT_FALSE(none.has_hash);
  EXPECT_NE(none.summary.find("nothing to check"), std::string::npos);
  // The published names.
  EXPECT_EQ(io::torchvision_hash_of_name("/x/resnet18-f37072fd.pth"), "f37072fd");
  EXPECT_EQ(io::torchvision_hash_of_name("vgg16_bn-6c64b313.pth"), "6c64b313");
  EXPECT_EQ(io::torchvision_hash_of_name("resnet50-11ad3fa6.pth"), "11ad3fa6");
  EXPECT_EQ(io::torchvision_hash_of_name("my-model.pth"), std::nullopt);
  EXPECT_EQ(io::torchvision_hash_of_name("/dir-abc.d/model.pth"), std::nullopt);  // name only
}

}  // namespace
}  // namespace afinar
