// MNIST-family datasets (MNIST, Fashion-MNIST) from their IDX files, and an exporter that turns
// one into an ImageFolder of PNGs, so the whole image pipeline (decoding, transforms, loader) can
// be exercised on a real dataset that Debian ships (dataset-fashion-mnist, installed by
// tools/setup.sh into kFashionMnistDir).
//
// IDX ("SN3 / Pascal Vincent") format, all integers big-endian:
//   magic   4 bytes: 0x00 0x00 <type> <ndim>; afinar reads type 0x08 (unsigned byte) only, the
//           type of every MNIST-family file
//   sizes   ndim × uint32: [N, rows, cols] for images (magic 0x00000803), [N] for labels
//           (magic 0x00000801)
//   data    the product of the sizes in bytes, row-major, nothing after it
// Files are read through zlib's gzopen, so "x-idx3-ubyte.gz" and an uncompressed
// "x-idx3-ubyte" both work.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "afinar/core/tensor.h"

namespace afinar::data {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// uint8 [N, rows, cols] from an IDX image file. Throws afinar::Error naming the file on a wrong
// magic number, zero rows or columns, a truncated file or bytes after the data.
Tensor read_idx_images(const std::string& path);
// int64 [N] from an IDX label file (the bytes widened), with the same checks.
Tensor read_idx_labels(const std::string& path);

enum class MnistSplit { Train, Test };

struct MnistData {
  Tensor images;  // uint8 [N, rows, cols] (28×28 for MNIST and Fashion-MNIST)
  Tensor labels;  // int64 [N]
};

// The train (60000) or test (10000) part of an MNIST-family dataset in `dir`:
// {train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte, each with or without ".gz"
// (torchvision's raw/ folder and the original downloads use these names). Checks that both
// files hold the same number of items.
MnistData load_mnist(const std::string& dir, MnistSplit split);

// torchvision.datasets.FashionMNIST.classes: label i is the i-th name.
const std::vector<std::string>& fashion_mnist_classes();

// A class name as a folder name: '/' (which no file name may hold) becomes '-', so
// "T-shirt/top" is stored as "T-shirt-top". Throws for names that are still not usable ("",
// ".", "..") or hold a NUL byte.
std::string class_folder_name(std::string_view class_name);

// Writes `data` as an ImageFolder: dir/<class_folder_name(classes[label])>/<index>.png, 8-bit
// grayscale, where <index> is the image's index in `data`, zero-padded to the width of N-1 so
// that the ImageFolder order within a class is the IDX order. limit_per_class > 0 keeps only the
// first that many images of each class (in IDX order); 0 keeps all. `dir` must not exist or be
// empty. Returns the number of images written.
//
// ImageFolder numbers classes by sorted folder name, so reading the export back gives labels in
// that order, not the IDX order: for Fashion-MNIST, ImageFolder's class 0 is "Ankle boot" (IDX
// label 9). Map through the class names when comparing.
int64_t export_image_folder(const MnistData& data, const std::vector<std::string>& classes,
                            const std::string& dir, int64_t limit_per_class = 0);

struct MnistExportOptions {
  int64_t limit_per_class = 0;  // per class and split; 0 = all
  bool train = true;            // write root/train from the train files
  bool test = true;             // write root/test from the t10k files
};

// load_mnist + export_image_folder for each split: root/{train,test}/<class>/<index>.png, a
// layout open_splits() reads directly. Returns the number of images written.
int64_t export_mnist(const std::string& src_dir, const std::vector<std::string>& classes,
                     const std::string& root, const MnistExportOptions& options = {});

}  // namespace afinar::data
