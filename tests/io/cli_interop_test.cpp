// `afinar import` and `afinar export` end to end (the real executable: exit codes, messages, no
// partial output), and the checks that need PyTorch itself, run through /usr/bin/python3 when it
// has torch, torchvision and h5py (skipped with the reason otherwise): torch.load
// (weights_only=True) of what afinar writes, torchvision's load_state_dict(strict=True), Python's
// zipfile on ZIP64 records, and the import of files torch saved in both containers.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "afinar/io/hdf5.h"
#include "afinar/io/sha256.h"
#include "afinar/io/torch_file.h"
#include "afinar/io/weights.h"
#include "afinar/io/zip.h"
#include "testing/compare.h"
#include "testing/fixtures.h"
#include "testing/python.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

using testing::cli;
using testing::contains;
using testing::expect_identical;
using testing::python;
using testing::Result;

namespace fs = std::filesystem;

void expect_same_state(const StateDict& got, const StateDict& want) {
  ASSERT_EQ(got.keys(), want.keys());
  for (const auto& [k, t] : want) expect_identical(got.at(k), t, k);
}

// torchvision's keys and shapes for `arch` with random values (a counter for the BN batches).
StateDict random_state(const std::string& arch, int64_t num_classes, uint64_t seed) {
  Generator gen(seed);
  StateDict sd;
  for (const auto& [key, shape] : io::torchvision_keys(arch, num_classes)) {
    sd.insert(key, key.find("num_batches_tracked") != std::string::npos
                       ? full(shape, 12345, DType::I64)
                       : randn(shape, DType::F32, gen));
  }
  return sd;
}

size_t files_in(const std::string& dir) {
  return size_t(std::distance(fs::directory_iterator(dir), {}));
}

std::string fixture(const std::string& name) {
  return testing::test_data_path("fixtures/pth/" + name);
}

// ---- import ----------------------------------------------------------------------------------

TEST(ImportCli, ZipFileRoundTripsExactly) {
  testing::TempDir dir;
  const StateDict sd = random_state("resnet18", 10, 1);
  const std::string src = dir / "resnet18_custom.pth", dst = dir / "r18.h5";
  io::save_torch_file(src, sd);
  const Result r = cli("import " + src + " -o " + dst);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "imported resnet18: 122 tensors, 11,181,642 params, 10 classes"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "(zip)")) << r.output;
  EXPECT_TRUE(contains(r.output, "no hash in the file name: nothing to check")) << r.output;
  const io::Weights w = io::load_weights(dst);
  expect_same_state(w.state_dict, sd);
  EXPECT_EQ(w.meta.arch, "resnet18");
  EXPECT_EQ(w.meta.num_classes, 10);
  EXPECT_EQ(w.meta.source, "resnet18_custom.pth");
  EXPECT_EQ(w.meta.source_sha256, io::sha256_file(src));
  EXPECT_EQ(w.meta.preprocessing.resize, 256);
  EXPECT_EQ(files_in(dir.path()), 2u) << "no temporary left";
}

TEST(ImportCli, ArchOptionMustMatchTheKeys) {
  testing::TempDir dir;
  const std::string src = dir / "model.pth", dst = dir / "out.h5";
  io::save_torch_file(src, random_state("resnet18", 4, 2));
  EXPECT_EQ(cli("import " + src + " -o " + dst + " --arch resnet18").code, 0);
  EXPECT_EQ(io::load_weights(dst).meta.arch, "resnet18");
  fs::remove(dst);
  Result r = cli("import " + src + " -o " + dst + " --arch resnet34");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "--arch resnet34 does not match")) << r.output;
  EXPECT_TRUE(contains(r.output, "the keys look like resnet18")) << r.output;
  r = cli("import " + src + " -o " + dst + " --arch vgg16");
  EXPECT_EQ(r.code, 1) << r.output;
  r = cli("import " + src + " -o " + dst + " --arch alexnet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "unknown architecture 'alexnet'")) << r.output;
  EXPECT_FALSE(fs::exists(dst));
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(ImportCli, FileNameHashIsChecked) {
  testing::TempDir dir;
  const std::string tmp = dir / "tmp.pth", dst = dir / "out.h5";
  io::save_torch_file(tmp, random_state("resnet18", 3, 3));
  const std::string sha = io::sha256_file(tmp);
  const std::string good = dir / ("resnet18-" + sha.substr(0, 8) + ".pth");
  const std::string bad = dir / "resnet18-deadbeef.pth";
  fs::copy_file(tmp, good);
  fs::copy_file(tmp, bad);
  Result r = cli("import " + good + " -o " + dst);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "sha256 matches the name's hash " + sha.substr(0, 8))) << r.output;
  fs::remove(dst);
  r = cli("import " + bad + " -o " + dst);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "deadbeef") && contains(r.output, "--no-verify")) << r.output;
  EXPECT_FALSE(fs::exists(dst));
  EXPECT_EQ(files_in(dir.path()), 3u) << "no temporary left";
  r = cli("import " + bad + " -o " + dst + " --no-verify");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "hash not checked (--no-verify)")) << r.output;
  EXPECT_EQ(io::load_weights(dst).meta.source, "resnet18-deadbeef.pth");
}

TEST(ImportCli, BadInputsExitOneAndLeaveNothing) {
  testing::TempDir dir, out;
  const std::string good = dir / "good.pth";
  io::save_torch_file(good, random_state("resnet18", 2, 4));
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(dir / "truncated.pth", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string corrupt = bytes;
  corrupt[bytes.size() / 2] ^= 1;  // inside a storage: the CRC-32 check catches it
  std::ofstream(dir / "corrupt.pth", std::ios::binary) << corrupt;
  std::ofstream(dir / "text.pth") << "not a model at all";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fixture("malicious_posix_system_zip.pth"), "refusing to load global 'posix.system'"},
      {fixture("malicious_os_system_legacy.pth"), "refusing to load global 'os.system'"},
      {fixture("malicious_eval_legacy.pth"), "refusing to load global '__builtin__.eval'"},
      {fixture("compressed_zip.pth"), "is compressed"},
      {fixture("rebuild_tensor_legacy.pth"), "cannot tell the architecture"},
      {dir / "truncated.pth", "truncated"},
      {dir / "corrupt.pth", "CRC-32"},
      {dir / "text.pth", "not a torch.save file"},
      {dir / "missing.pth", "cannot open"}};
  for (const auto& [src, message] : cases) {
    const Result r = cli("import " + src + " -o " + (out / "w.h5"));
    EXPECT_EQ(r.code, 1) << src << ": " << r.output;
    EXPECT_TRUE(contains(r.output, "afinar: error: ")) << r.output;
    EXPECT_TRUE(contains(r.output, message)) << src << ": " << r.output;
    EXPECT_EQ(files_in(out.path()), 0u) << src << ": left a file behind";
  }
  for (const char* marker : {"posix_system", "os_system", "eval"})
    EXPECT_FALSE(fs::exists(std::string("/tmp/afinar_pwned_") + marker)) << marker;
  EXPECT_EQ(cli("import " + good + " -o " + (out / "no/such/dir/w.h5")).code, 1);
  EXPECT_EQ(cli("import " + good).code, 2);  // -o is required: a usage error
}

TEST(ImportCli, FilesSavedByTorchInBothContainers) {
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  // torchvision's resnet18 with 7 classes and non-trivial BN buffers, saved by torch in the zip
  // and the legacy container; its tensors written with h5py as the reference.
  const Result made = python(dir, R"(
import sys, torch, torchvision, h5py
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=7)
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        mod.running_mean.normal_(); mod.running_var.uniform_(0.5, 2); mod.num_batches_tracked += 9
sd = m.state_dict()
out = sys.argv[1]
torch.save(sd, out + "/r18_zip.pth")
torch.save(sd, out + "/r18_legacy.pth", _use_new_zipfile_serialization=False)
with h5py.File(out + "/expected.h5", "w") as f:
    for k, v in sd.items():
        f.create_dataset(k, data=v.numpy())
)",
                             dir.path());
  ASSERT_EQ(made.code, 0) << made.output;
  const auto expected = hdf5::File::open(dir / "expected.h5");
  for (const char* name : {"r18_zip", "r18_legacy"}) {
    const std::string dst = dir / (std::string(name) + ".h5");
    const Result r = cli("import " + (dir / (std::string(name) + ".pth")) + " -o " + dst);
    ASSERT_EQ(r.code, 0) << r.output;
    const io::Weights w = io::load_weights(dst);
    EXPECT_EQ(w.meta.arch, "resnet18");
    EXPECT_EQ(w.meta.num_classes, 7);
    ASSERT_EQ(w.state_dict.size(), 122u);
    for (const auto& [k, t] : w.state_dict)
      expect_identical(t, expected.read_tensor("/" + k), std::string(name) + ": " + k);
  }
}

// ---- export ----------------------------------------------------------------------------------

TEST(ExportCli, ImportOfTheExportIsTheSameWeights) {
  testing::TempDir dir;
  const StateDict sd = random_state("resnet18", 5, 5);
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 5;
  io::save_weights(dir / "in.h5", sd, meta);
  Result r = cli("export " + (dir / "in.h5") + " -o " + (dir / "out.pth"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "exported resnet18: 122 tensors")) << r.output;
  r = cli("import " + (dir / "out.pth") + " -o " + (dir / "back.h5"));
  ASSERT_EQ(r.code, 0) << r.output;
  const io::Weights back = io::load_weights(dir / "back.h5");
  EXPECT_EQ(back.meta.arch, "resnet18");
  EXPECT_EQ(back.meta.num_classes, 5);
  expect_same_state(back.state_dict, sd);
}

TEST(ExportCli, BadInputsExitOneAndLeaveNothing) {
  testing::TempDir dir, out;
  {
    auto f = hdf5::File::create(dir / "plain.h5");
    f.write_tensor("/x", zeros({2}));
  }
  std::ofstream(dir / "text.h5") << "not hdf5";
  for (const std::string& src : {dir / "plain.h5", dir / "text.h5", dir / "missing.h5"}) {
    const Result r = cli("export " + src + " -o " + (out / "w.pth"));
    EXPECT_EQ(r.code, 1) << src << ": " << r.output;
    EXPECT_EQ(files_in(out.path()), 0u) << src;
  }
}

TEST(ExportCli, TorchLoadsItAndTorchvisionAcceptsItStrictly) {
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 10;
  io::save_weights(dir / "r18.h5", random_state("resnet18", 10, 6), meta);
  const Result e = cli("export " + (dir / "r18.h5") + " -o " + (dir / "r18.pth"));
  ASSERT_EQ(e.code, 0) << e.output;
  const Result r = python(dir, R"(
import sys, collections, torch, torchvision, h5py, numpy as np
sd = torch.load(sys.argv[2], weights_only=True)
assert isinstance(sd, collections.OrderedDict), type(sd)
with h5py.File(sys.argv[1]) as f:
    g = f["state_dict"]
    assert list(sd) == list(g), "keys or order differ"
    for k, t in sd.items():
        want = g[k][()]
        assert t.dtype == (torch.int64 if k.endswith("num_batches_tracked") else torch.float32), k
        assert t.is_contiguous() and tuple(t.shape) == want.shape, k
        assert np.array_equal(t.numpy(), want), k
m = torchvision.models.resnet18(num_classes=10)
m.load_state_dict(sd, strict=True)
print("torch.load and load_state_dict(strict=True): OK")
)",
                          (dir / "r18.h5") + " " + (dir / "r18.pth"));
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(Weights, H5pyReadsTheStringAttributesAsStr) {
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  StateDict sd;
  sd.insert("fc.bias", zeros({2}));
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 2;
  meta.source = "r\xc3\xa9seau.pth";  // "réseau.pth": UTF-8 survives
  meta.class_names = {"cat", "dog"};
  io::save_weights(dir / "w.h5", sd, meta);
  const Result r = python(dir, R"(
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    a = f.attrs
    for k in ("format", "arch", "source", "source_sha256"):
        assert isinstance(a[k], str), (k, type(a[k]))
    assert a["format"] == "afinar-weights" and a["arch"] == "resnet18", dict(a)
    assert a["source"] == "r\u00e9seau.pth" and a["source_sha256"] == "", dict(a)
    assert list(a["class_names"]) == ["cat", "dog"], a["class_names"]
)",
                          dir / "w.h5");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(TorchFile, SavedFileLoadsInTorchWeightsOnlyWithEveryDtype) {
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  Generator gen(9);
  StateDict sd;
  sd.insert("f32", randn({3, 4}, DType::F32, gen));
  sd.insert("f32.transposed", randn({3, 5}, DType::F32, gen).transpose(0, 1));
  sd.insert("f64", randn({2}, DType::F64, gen));
  sd.insert("i64.num_batches_tracked", full({}, 3, DType::I64));
  sd.insert("i32", from_vector<int32_t>({-5, 7}, {2}));
  sd.insert("u8", from_vector<uint8_t>({0, 200, 255}, {3}));
  sd.insert("scalar", full({}, 1.5));
  sd.insert("empty", zeros({0, 2}));
  io::save_torch_file(dir / "all.pth", sd);
  {
    auto f = hdf5::File::create(dir / "all.h5");
    for (const auto& [k, t] : sd) f.write_tensor("/" + k, t);
  }
  const Result r = python(dir, R"(
import sys, torch, h5py, numpy as np
sd = torch.load(sys.argv[1], weights_only=True)
with h5py.File(sys.argv[2]) as f:
    assert sorted(sd) == sorted(f), (list(sd), list(f))
    for k, t in sd.items():
        want = f[k][()]
        assert t.numpy().dtype == want.dtype, (k, t.dtype, want.dtype)
        assert np.array_equal(t.numpy(), want), k
)",
                          (dir / "all.pth") + " " + (dir / "all.h5"));
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(Zip, Zip64ArchiveIsReadByPythonZipfile) {
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  const std::string a(5000, 'a');
  {
    io::ZipWriter w(dir / "z64.zip", /*zip64_from=*/0);
    w.add("z/a", a.data(), a.size());
    w.add("z/b", "bb", 2);
    w.finish();
  }
  const Result r = python(dir, R"(
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    assert z.read("z/a") == b"a" * 5000 and z.read("z/b") == b"bb"
    assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
)",
                          dir / "z64.zip");
  EXPECT_EQ(r.code, 0) << r.output;
}

}  // namespace
}  // namespace afinar
