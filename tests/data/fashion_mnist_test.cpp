// IDX reading on small files written here (plain and gzip'd; good, bad magic, truncated, trailing
// bytes, corrupt gzip), the real Fashion-MNIST files when Debian's dataset-fashion-mnist is
// installed, and the PNG ImageFolder exporter read back through ImageFolder and decode_image.
#include <gtest/gtest.h>

#include <stdlib.h>
#include "testing/fashion_mnist.h"
#include "testing/temp_dir.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "afinar/core/check.h"
#include "afinar/data/dataset.h"
#include "afinar/data/decode.h"
#include "afinar/data/fashion_mnist.h"

namespace afinar::data {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// A fresh folder under the system's temporary folder, removed with everything in it.
template <typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no afinar::Error thrown";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what;
  }
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// 64-bit FNV-1a: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// CRC-32 as gzip's trailer holds it (reflected polynomial 0xEDB88320), bit by bit.
uint32_t crc32(const Bytes& b) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t x : b) {
    c ^= x;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put_le32(Bytes& out, uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(uint8_t(v >> (8 * k)));
}

// `data` as a gzip file (RFC 1952) whose deflate stream (RFC 1951) is stored blocks of at most
// 65535 bytes, so the test needs no compressor: header, blocks, CRC-32, length.
Bytes gzip_stored(const Bytes& data) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};  // deflate, no flags, Unix
  size_t pos = 0;
  do {
    const size_t len = std::min<size_t>(data.size() - pos, 65535);
    const bool last = pos + len == data.size();
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00 (stored)
    for (uint16_t v : {uint16_t(len), uint16_t(~len)}) {
      out.push_back(uint8_t(v));
      out.push_back(uint8_t(v >> 8));
    }
    out.insert(out.end(), data.begin() + long(pos), data.begin() + long(pos + len));
    pos += len;
  } while (pos < data.size());
  put_le32(out, crc32(data));
  put_le32(out, uint32_t(data.size()));
  return out;
}

// An IDX file: magic, big-endian sizes, data.
Bytes idx_file(uint32_t magic, const std::vector<uint32_t>& sizes, const Bytes& data) {
  Bytes out;
  auto put_be32 = [&](uint32_t v) {
    for (int k = 3; k >= 0; --k) out.push_back(uint8_t(v >> (8 * k)));
  };
  put_be32(magic);
  for (uint32_t s : sizes) put_be32(s);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// n images of rows × cols with pixel (i, y, x) = 7i + 3y + x (mod 256).
Bytes pattern(int n, int rows, int cols) {
  Bytes b;
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x) b.push_back(uint8_t(7 * i + 3 * y + x));
  return b;
}

TEST(Idx, ReadsPlainAndGzipFiles) {
  TempDir d;
  const Bytes pixels = pattern(3, 2, 5);
  const Bytes labels = {9, 0, 255};
  for (const bool gz : {false, true}) {
    const std::string img = d.path() + "/img" + (gz ? ".gz" : ""), lab = d.path() + "/lab";
    const Bytes img_file = idx_file(0x803, {3, 2, 5}, pixels);
    write_file(img, gz ? gzip_stored(img_file) : img_file);
    write_file(lab, idx_file(0x801, {3}, labels));
    const Tensor t = read_idx_images(img);
    EXPECT_EQ(t.dtype(), DType::U8);
    EXPECT_EQ(t.shape(), (Shape{3, 2, 5}));
    EXPECT_EQ(t.to_vector<uint8_t>(), pixels);
    const Tensor l = read_idx_labels(lab);
    EXPECT_EQ(l.dtype(), DType::I64);
    EXPECT_EQ(l.to_vector<int64_t>(), (std::vector<int64_t>{9, 0, 255}));
  }
}

TEST(Idx, GzipOverManyBlocks) {
  // 70000 bytes of data: two stored blocks, so reading crosses a block boundary.
  TempDir d;
  const Bytes pixels = pattern(70, 25, 40);
  write_file(d.path() + "/x.gz", gzip_stored(idx_file(0x803, {70, 25, 40}, pixels)));
  EXPECT_EQ(read_idx_images(d.path() + "/x.gz").to_vector<uint8_t>(), pixels);
}

TEST(Idx, BadMagicIsAnError) {
  TempDir d;
  const std::string p = d.path() + "/f";
  write_file(p, idx_file(0x801, {3}, {1, 2, 3}));
  expect_error([&] { read_idx_images(p); }, {p, "not an IDX image file", "0x801", "0x803"});
  write_file(p, idx_file(0x803, {1, 1, 1}, {1}));
  expect_error([&] { read_idx_labels(p); }, {p, "not an IDX label file", "0x803", "0x801"});
  write_file(p, idx_file(0x0C03, {1, 1, 1}, {0, 0, 0, 1}));  // int32 data
  expect_error([&] { read_idx_images(p); }, {"0xc03"});
  write_file(p, {'P', 'K', 3, 4, 0, 0});
  expect_error([&] { read_idx_images(p); }, {"magic number"});
}

TEST(Idx, TruncatedAndOverlongFilesAreErrors) {
  TempDir d;
  const std::string p = d.path() + "/f", gz = d.path() + "/f.gz";
  const Bytes full = idx_file(0x803, {2, 3, 4}, pattern(2, 3, 4));
  write_file(p, Bytes(full.begin(), full.begin() + 2));
  expect_error([&] { read_idx_images(p); }, {p, "ends inside the header"});
  write_file(p, Bytes(full.begin(), full.begin() + 10));
  expect_error([&] { read_idx_images(p); }, {"ends inside the header"});
  const Bytes short_by_one(full.begin(), full.end() - 1);
  write_file(p, short_by_one);
  expect_error([&] { read_idx_images(p); }, {p, "truncated", "need 24 bytes", "holds 23"});
  write_file(gz, gzip_stored(short_by_one));
  expect_error([&] { read_idx_images(gz); }, {gz, "truncated", "holds 23"});
  Bytes longer = full;
  longer.push_back(0);
  write_file(p, longer);
  expect_error([&] { read_idx_images(p); }, {p, "bytes after the 24 bytes"});
  write_file(p, idx_file(0x803, {2, 0, 4}, {}));
  expect_error([&] { read_idx_images(p); }, {"zero size in dimension 1"});
  expect_error([&] { read_idx_images(d.path() + "/none"); }, {"cannot open", "/none"});
  // No images at all is a valid (empty) file.
  write_file(p, idx_file(0x803, {0, 28, 28}, {}));
  EXPECT_EQ(read_idx_images(p).shape(), (Shape{0, 28, 28}));
}

TEST(Idx, CorruptGzipIsAnError) {
  TempDir d;
  const std::string p = d.path() + "/f.gz";
  Bytes gz = gzip_stored(idx_file(0x801, {3}, {1, 2, 3}));
  gz[gz.size() - 8] ^= 0xFF;  // the CRC-32 no longer matches
  write_file(p, gz);
  expect_error([&] { read_idx_labels(p); }, {p, "cannot read", "incorrect data check"});
  gz = gzip_stored(idx_file(0x801, {3}, {1, 2, 3}));
  gz.erase(gz.end() - 6, gz.end());  // the stream ends inside its trailer
  write_file(p, gz);
  expect_error([&] { read_idx_labels(p); }, {p, "gzip stream ends early"});
}

TEST(Idx, LoadMnistPairsImagesWithLabels) {
  TempDir d;
  write_file(d.path() + "/t10k-images-idx3-ubyte.gz",
             gzip_stored(idx_file(0x803, {2, 28, 28}, pattern(2, 28, 28))));
  write_file(d.path() + "/t10k-labels-idx1-ubyte", idx_file(0x801, {2}, {4, 1}));
  const MnistData m = load_mnist(d.path(), MnistSplit::Test);
  EXPECT_EQ(m.images.shape(), (Shape{2, 28, 28}));
  EXPECT_EQ(m.labels.to_vector<int64_t>(), (std::vector<int64_t>{4, 1}));
  expect_error([&] { load_mnist(d.path(), MnistSplit::Train); },
               {"train-images-idx3-ubyte.gz", "nor"});
  write_file(d.path() + "/t10k-labels-idx1-ubyte", idx_file(0x801, {3}, {4, 1, 0}));
  expect_error([&] { load_mnist(d.path(), MnistSplit::Test); }, {"2 t10k images but 3 labels"});
}

// ---- the real files
// ------------------------------------------------------------------------------

TEST(FashionMnist, ReadsTheDebianFiles) {
  SKIP_WITHOUT_FASHION_MNIST();
  // Checksums computed with Python from the same files, independently of our reader:
  //   px = gzip.open(f).read()[16:]  (images; [8:] for labels)
  //   h = 0xcbf29ce484222325; for b in px: h = ((h ^ b) * 0x100000001b3) % 2**64   (FNV-1a 64)
  // train: pixels 0x51ac53b882edba04 (sum 3431114169), labels 0xb9f71c71bae5f277;
  // t10k:  pixels 0x1b11fc03671b2f71 (sum 573469082),  labels 0x25bdf8123f06fac3.
  struct Want {
    MnistSplit split;
    int64_t n;
    uint64_t pixels, labels, sum;
    std::vector<int64_t> first_labels;
  };
  for (const Want& w : {Want{MnistSplit::Train,
                             60000,
                             0x51ac53b882edba04ull,
                             0xb9f71c71bae5f277ull,
                             3431114169ull,
                             {9, 0, 0, 3, 0}},
                        Want{MnistSplit::Test,
                             10000,
                             0x1b11fc03671b2f71ull,
                             0x25bdf8123f06fac3ull,
                             573469082ull,
                             {9, 2, 1, 1, 6}}}) {
    const MnistData m = load_mnist(kFashionMnistDir, w.split);
    ASSERT_EQ(m.images.shape(), (Shape{w.n, 28, 28}));
    ASSERT_EQ(m.labels.shape(), (Shape{w.n}));
    const uint8_t* px = m.images.data<uint8_t>();
    EXPECT_EQ(fnv1a(px, size_t(m.images.numel())), w.pixels);
    uint64_t sum = 0;
    for (int64_t i = 0; i < m.images.numel(); ++i) sum += px[i];
    EXPECT_EQ(sum, w.sum);
    const std::vector<int64_t> labels = m.labels.to_vector<int64_t>();
    const Bytes label_bytes(labels.begin(), labels.end());
    EXPECT_EQ(fnv1a(label_bytes.data(), label_bytes.size()), w.labels);
    EXPECT_EQ(std::vector<int64_t>(labels.begin(), labels.begin() + 5), w.first_labels);
    std::vector<int64_t> hist(10, 0);
    for (int64_t l : labels) ++hist[size_t(l)];
    EXPECT_EQ(hist, std::vector<int64_t>(10, w.n / 10));
  }
}

TEST(FashionMnist, CutGzipStreamIsAnError) {
  SKIP_WITHOUT_FASHION_MNIST();
  // The real (compressed) label file cut in the middle of its deflate stream.
  TempDir d;
  const Bytes whole = read_file(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz");
  const std::string p = d.path() + "/cut.gz";
  write_file(p, Bytes(whole.begin(), whole.begin() + long(whole.size() / 2)));
  expect_error([&] { read_idx_labels(p); }, {p, "gzip stream ends early"});
}

TEST(FashionMnist, ClassNames) {
  // torchvision.datasets.FashionMNIST.classes (torchvision 0.14, datasets/mnist.py).
  EXPECT_EQ(fashion_mnist_classes(),
            (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}));
  EXPECT_EQ(class_folder_name("T-shirt/top"), "T-shirt-top");
  EXPECT_EQ(class_folder_name("a/b/c"), "a-b-c");
  EXPECT_EQ(class_folder_name("Ankle boot"), "Ankle boot");
  for (const char* bad : {"", ".", ".."})
    expect_error([&] { class_folder_name(bad); }, {"cannot be a folder name"});
}

// ---- export
// --------------------------------------------------------------------------------------

// 12 images of 3 rows × 2 columns (not square, so a transposed write would show).
MnistData small_data() {
  MnistData m;
  m.images = from_vector<uint8_t>(pattern(12, 3, 2), {12, 3, 2});
  m.labels = from_vector<int64_t>({2, 0, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2}, {12});
  return m;
}

// The decoded PNG (RGB, PIL's convert("RGB") of a grayscale image) against image i of m.
void expect_pixels(const std::string& path, const MnistData& m, int64_t i) {
  const Image im = decode_image(path);
  const int64_t rows = m.images.size(1), cols = m.images.size(2);
  ASSERT_EQ(im.height, rows) << path;
  ASSERT_EQ(im.width, cols) << path;
  ASSERT_EQ(im.channels, 3) << path;
  const uint8_t* src = m.images.data<uint8_t>() + i * rows * cols;
  for (int64_t y = 0; y < rows; ++y)
    for (int64_t x = 0; x < cols; ++x)
      for (int k = 0; k < 3; ++k)
        ASSERT_EQ(im.pixel(y, x)[k], src[y * cols + x]) << path << " at " << y << "," << x;
}

TEST(Export, WritesAnImageFolderOfPngs) {
  TempDir d;
  const MnistData m = small_data();
  // Class 0 "b/x" -> folder "b-x"; ImageFolder sorts the folders: a (IDX label 1), b-x (0),
  // c (2). With 2 per class: a: images 3, 7; b-x: 1, 4; c: 0, 2; names padded to 2 digits.
  const std::string out = d.path() + "/out";
  EXPECT_EQ(export_image_folder(m, {"b/x", "a", "c"}, out, 2), 6);
  const ImageFolder ds = ImageFolder::open(out);
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"a", "b-x", "c"}));
  const std::vector<std::pair<std::string, int64_t>> want = {{"a/03.png", 0},   {"a/07.png", 0},
                                                             {"b-x/01.png", 1}, {"b-x/04.png", 1},
                                                             {"c/00.png", 2},   {"c/02.png", 2}};
  ASSERT_EQ(ds.size(), int64_t(want.size()));
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(ds.samples()[k].path, out + "/" + want[k].first);
    EXPECT_EQ(ds.samples()[k].label, want[k].second);
    expect_pixels(ds.samples()[k].path, m,
                  std::stoll(want[k].first.substr(want[k].first.find('/') + 1)));
  }
}

TEST(Export, ZeroPaddedNamesKeepIdxOrder) {
  // Without padding "11.png" would sort before "2.png".
  TempDir d;
  const MnistData m = small_data();
  EXPECT_EQ(export_image_folder(m, {"p", "q", "r"}, d.path() + "/all"), 12);
  const ImageFolder ds = ImageFolder::open(d.path() + "/all");
  std::vector<std::string> r;
  for (const Sample& s : ds.samples())
    if (s.label == 2) r.push_back(fs::path(s.path).filename().string());
  EXPECT_EQ(r, (std::vector<std::string>{"00.png", "02.png", "05.png", "06.png", "11.png"}));
}

TEST(Export, BadArgumentsAreErrors) {
  TempDir d;
  const MnistData m = small_data();
  const std::string out = d.path() + "/out";
  expect_error([&] { export_image_folder(m, {"a", "b"}, out); }, {"image 0 has label 2", "[0, 2)"});
  expect_error([&] { export_image_folder(m, {"a/b", "a-b", "c"}, out); }, {"same folder name"});
  expect_error([&] { export_image_folder(m, {"a", "b", "c"}, out, -1); }, {"limit_per_class"});
  MnistData wrong = m;
  wrong.images = m.images.to(DType::F32);
  expect_error([&] { export_image_folder(wrong, {"a", "b", "c"}, out); }, {"uint8"});
  EXPECT_FALSE(fs::exists(out));
  fs::create_directories(out);
  std::ofstream(out + "/stale.png").put('x');
  expect_error([&] { export_image_folder(m, {"a", "b", "c"}, out); }, {out, "not an empty folder"});
}

TEST(FashionMnist, ExportAndReadBack) {
  SKIP_WITHOUT_FASHION_MNIST();
  TempDir d;
  const std::vector<std::string>& names = fashion_mnist_classes();
  EXPECT_EQ(export_mnist(kFashionMnistDir, names, d.path(), {.limit_per_class = 3}), 60);
  const DatasetSplits s = open_splits(d.path());
  EXPECT_EQ(s.classes,
            (std::vector<std::string>{"Ankle boot", "Bag", "Coat", "Dress", "Pullover", "Sandal",
                                      "Shirt", "Sneaker", "T-shirt-top", "Trouser"}));
  EXPECT_TRUE(s.val.empty());
  for (const auto& [split, samples] :
       {std::pair{MnistSplit::Train, &s.train}, std::pair{MnistSplit::Test, &s.test}}) {
    const MnistData m = load_mnist(kFashionMnistDir, split);
    const std::vector<int64_t> labels = m.labels.to_vector<int64_t>();
    // Expected: for each folder in sorted order, the first 3 IDX indices of its class.
    std::vector<int64_t> want;
    for (const std::string& folder : s.classes) {
      const auto idx_label =
          std::find_if(names.begin(), names.end(),
                       [&](const std::string& n) { return class_folder_name(n) == folder; }) -
          names.begin();
      for (size_t i = 0, taken = 0; taken < 3; ++i)
        if (labels[i] == idx_label) want.push_back(int64_t(i)), ++taken;
    }
    ASSERT_EQ(samples->size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) {
      const Sample& x = (*samples)[k];
      const int64_t i = std::stoll(fs::path(x.path).stem().string());
      EXPECT_EQ(i, want[k]) << x.path;
      EXPECT_EQ(class_folder_name(names[size_t(labels[size_t(i)])]), s.classes[size_t(x.label)]);
      if (k % 3 == 0) expect_pixels(x.path, m, i);
    }
  }
}

}  // namespace
}  // namespace afinar::data
