// IDX reading (zlib's gzread, which passes uncompressed files through) and the PNG exporter
// (stb_image_write: this file is the one place that compiles its implementation).
#include "afinar/data/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <set>

#include "afinar/core/check.h"
#include "afinar/data/dataset.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace afinar::data {
namespace {

namespace fs = std::filesystem;

class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    AFN_CHECK(f_ != nullptr, "IDX: cannot open '", path, "': ", std::strerror(errno));
  }
  ~GzReader() { gzclose(f_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes into dst; fewer only at the end of the data. Throws on a zlib error
  // (a corrupt or cut gzip stream).
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      const auto chunk = unsigned(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(f_, static_cast<char*>(dst) + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(f_, &code);
        AFN_FAIL("IDX: cannot read '", path_, "': ", code == Z_ERRNO ? std::strerror(errno) : msg);
      }
      if (got == 0) {
        // The end of the input; zlib reports a gzip stream cut short only through gzerror.
        int code = 0;
        gzerror(f_, &code);
        AFN_CHECK(code != Z_BUF_ERROR, "IDX: cannot read '", path_,
                  "': the gzip stream ends early (the file is truncated)");
        break;
      }
      done += size_t(got);
    }
    return done;
  }

 private:
  std::string path_;
  gzFile f_;
};

uint32_t big_endian(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

struct Idx {
  Shape sizes;
  std::vector<uint8_t> data;
};

// An IDX file of unsigned bytes with `ndim` dimensions (see the header for the format).
Idx read_idx(const std::string& path, int ndim, const char* what) {
  GzReader in(path);
  uint8_t header[4];
  const uint32_t expected = 0x0800u | uint32_t(ndim);
  AFN_CHECK(in.read(header, 4) == 4, "IDX: '", path, "' is truncated: it ends inside the header");
  const uint32_t magic = big_endian(header);
  AFN_CHECK(magic == expected, "IDX: '", path, "' is not an IDX ", what, " file: magic number 0x",
            std::hex, magic, ", expected 0x", expected, std::dec, " (unsigned bytes, ", ndim,
            " dimensions)");
  std::vector<uint8_t> dims(size_t(4 * ndim));
  AFN_CHECK(in.read(dims.data(), dims.size()) == dims.size(), "IDX: '", path,
            "' is truncated: it ends inside the header");
  Idx idx;
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    const int64_t s = big_endian(&dims[size_t(4 * d)]);
    AFN_CHECK(d == 0 || s > 0, "IDX: '", path, "' has a zero size in dimension ", d);
    AFN_CHECK(s == 0 || total <= INT64_MAX / s, "IDX: '", path, "': sizes overflow");
    idx.sizes.push_back(s);
    total *= s;
  }
  // Read in chunks, so a header that claims more than the file holds costs no huge allocation.
  constexpr size_t kChunk = size_t(16) << 20;
  size_t have = 0;
  while (have < size_t(total)) {
    idx.data.resize(std::min(size_t(total), have + kChunk));
    const size_t got = in.read(idx.data.data() + have, idx.data.size() - have);
    have += got;
    AFN_CHECK(have == idx.data.size(), "IDX: '", path, "' is truncated: sizes ", idx.sizes,
              " need ", total, " bytes of data, the file holds ", have);
  }
  uint8_t extra;
  AFN_CHECK(in.read(&extra, 1) == 0, "IDX: '", path, "' has bytes after the ", total,
            " bytes of data its sizes ", idx.sizes, " describe");
  return idx;
}

// dir/name.gz if it exists, else dir/name.
std::string find_idx(const std::string& dir, const std::string& name) {
  const std::string plain = join_path(dir, name), gz = plain + ".gz";
  if (fs::exists(gz)) return gz;
  AFN_CHECK(fs::exists(plain), "load_mnist: neither '", gz, "' nor '", plain,
            "' exists (the Fashion-MNIST files come with Debian's dataset-fashion-mnist "
            "package, in ",
            kFashionMnistDir, ")");
  return plain;
}

// An export target must be new: a folder left from another export would mix in stale files.
void check_fresh_folder(const std::string& dir) {
  std::error_code ec;
  AFN_CHECK(!fs::exists(dir, ec) || (fs::is_directory(dir, ec) && fs::is_empty(dir, ec)),
            "export: '", dir, "' already exists and is not an empty folder; export into a new one");
}

}  // namespace

Tensor read_idx_images(const std::string& path) {
  Idx idx = read_idx(path, 3, "image");
  Tensor t = empty(idx.sizes, DType::U8);
  std::copy(idx.data.begin(), idx.data.end(), t.data<uint8_t>());
  return t;
}

Tensor read_idx_labels(const std::string& path) {
  Idx idx = read_idx(path, 1, "label");
  Tensor t = empty(idx.sizes, DType::I64);
  std::copy(idx.data.begin(), idx.data.end(), t.data<int64_t>());
  return t;
}

MnistData load_mnist(const std::string& dir, MnistSplit split) {
  const std::string prefix = split == MnistSplit::Train ? "train" : "t10k";
  MnistData d;
  d.images = read_idx_images(find_idx(dir, prefix + "-images-idx3-ubyte"));
  d.labels = read_idx_labels(find_idx(dir, prefix + "-labels-idx1-ubyte"));
  AFN_CHECK(d.images.size(0) == d.labels.size(0), "load_mnist: '", dir, "' has ", d.images.size(0),
            " ", prefix, " images but ", d.labels.size(0), " labels");
  return d;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

std::string class_folder_name(std::string_view class_name) {
  std::string s(class_name);
  std::replace(s.begin(), s.end(), '/', '-');
  AFN_CHECK(s != "" && s != "." && s != ".." && s.find('\0') == std::string::npos,
            "class_folder_name: '", s, "' cannot be a folder name");
  return s;
}

namespace {

// The checks of export_image_folder; returns the class folder names.
std::vector<std::string> check_export(const MnistData& data,
                                      const std::vector<std::string>& classes,
                                      const std::string& dir, int64_t limit_per_class) {
  const Tensor &images = data.images, &labels = data.labels;
  AFN_CHECK(images.dtype() == DType::U8 && images.dim() == 3,
            "export_image_folder: images must be uint8 [N, rows, cols], got ", images.dtype(), " ",
            images.shape());
  AFN_CHECK(labels.dtype() == DType::I64 && labels.dim() == 1 && labels.size(0) == images.size(0),
            "export_image_folder: labels must be int64 [N] with N = ", images.size(0), ", got ",
            labels.dtype(), " ", labels.shape());
  AFN_CHECK(images.size(1) <= INT_MAX && images.size(2) <= INT_MAX,
            "export_image_folder: images of ", images.size(1), "x", images.size(2),
            " are too large for PNG");
  AFN_CHECK(limit_per_class >= 0, "export_image_folder: limit_per_class must be >= 0, got ",
            limit_per_class);
  std::vector<std::string> folders;
  for (const std::string& c : classes) folders.push_back(class_folder_name(c));
  AFN_CHECK(std::set<std::string>(folders.begin(), folders.end()).size() == folders.size(),
            "export_image_folder: two class names give the same folder name");
  const std::vector<int64_t> label = labels.to_vector<int64_t>();
  for (size_t i = 0; i < label.size(); ++i) {
    AFN_CHECK(label[i] >= 0 && label[i] < int64_t(classes.size()), "export_image_folder: image ", i,
              " has label ", label[i], ", outside [0, ", classes.size(), ")");
  }
  check_fresh_folder(dir);
  return folders;
}

// Writes the PNGs once check_export has passed.
int64_t write_export(const MnistData& data, const std::vector<std::string>& folders,
                     const std::string& dir, int64_t limit_per_class) {
  const Tensor images = data.images.contiguous();
  const std::vector<int64_t> label = data.labels.to_vector<int64_t>();
  const int64_t n = images.size(0), rows = images.size(1), cols = images.size(2);
  const size_t width = std::to_string(std::max<int64_t>(n - 1, 0)).size();
  std::vector<int64_t> written(folders.size(), 0);
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto c = size_t(label[size_t(i)]);
    if (limit_per_class > 0 && written[c] >= limit_per_class) continue;
    const std::string folder = join_path(dir, folders[c]);
    std::error_code ec;
    if (written[c] == 0) fs::create_directories(folder, ec);
    AFN_CHECK(!ec, "export_image_folder: cannot create '", folder, "': ", ec.message());
    std::string name = std::to_string(i);
    name.insert(0, width - name.size(), '0');
    const std::string path = join_path(folder, name + ".png");
    const uint8_t* pixels = images.data<uint8_t>() + i * rows * cols;
    AFN_CHECK(stbi_write_png(path.c_str(), int(cols), int(rows), 1, pixels, int(cols)) != 0,
              "export_image_folder: cannot write '", path, "': ", std::strerror(errno));
    ++written[c];
    ++total;
  }
  return total;
}

}  // namespace

int64_t export_image_folder(const MnistData& data, const std::vector<std::string>& classes,
                            const std::string& dir, int64_t limit_per_class) {
  const std::vector<std::string> folders = check_export(data, classes, dir, limit_per_class);
  return write_export(data, folders, dir, limit_per_class);
}

int64_t export_mnist(const std::string& src_dir, const std::vector<std::string>& classes,
                     const std::string& root, const MnistExportOptions& options) {
  AFN_CHECK(options.train || options.test, "export_mnist: neither train nor test selected");
  struct Part {
    MnistSplit split;
    const char* folder;
  };
  std::vector<Part> parts;
  if (options.train) parts.push_back({MnistSplit::Train, "train"});
  if (options.test) parts.push_back({MnistSplit::Test, "test"});
  // Every split is loaded and checked before the first file is written.
  std::vector<MnistData> data;
  std::vector<std::string> folders;
  for (const Part& p : parts) {
    data.push_back(load_mnist(src_dir, p.split));
    folders =
        check_export(data.back(), classes, join_path(root, p.folder), options.limit_per_class);
  }
  int64_t total = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    total +=
        write_export(data[k], folders, join_path(root, parts[k].folder), options.limit_per_class);
  }
  return total;
}

}  // namespace afinar::data
