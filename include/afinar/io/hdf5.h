// A small HDF5 layer over the C library: files, groups, tensor datasets and attributes. Used for
// weights files and checkpoints (DESIGN.md "Formats") and for the PyTorch goldens of the tests.
//
//   auto f = hdf5::File::open("tests/data/goldens/conv2d.h5");
//   for (auto& name : f.list("/")) { Tensor x = f.read_tensor("/" + name + "/x"); ... }
//
// Datasets are row-major with the tensor's shape; dtypes f32, f64, i64, i32, u8 round-trip.
// Groups made with create_group(name, /*track_order=*/true) remember the order their members were
// written in, and list(name, LinkOrder::Creation) gives it back (a state_dict's key order).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "afinar/core/tensor.h"

namespace afinar::hdf5 {

enum class LinkOrder { Name, Creation };

class File {
 public:
  static File open(const std::string& path);    // read-only
  static File create(const std::string& path);  // truncates
  ~File();
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;

  const std::string& path() const { return path_; }
  bool exists(const std::string& object) const;
  // Names of the members of a group, sorted by name; with LinkOrder::Creation, in the order they
  // were created when the group tracks it (create_group with track_order), by name otherwise.
  std::vector<std::string> list(const std::string& group, LinkOrder order = LinkOrder::Name) const;
  // Parents are created as needed; `track_order` records the creation order of the members.
  void create_group(const std::string& group, bool track_order = false);

  Tensor read_tensor(const std::string& dataset) const;
  void write_tensor(const std::string& dataset, const Tensor& t);
  // Writes `data`, row-major elements of `dtype` with `shape`, without staging it in a tensor
  // (the importer writes straight from a memory-mapped file).
  void write_raw(const std::string& dataset, DType dtype, const Shape& shape, const void* data);

  // Attributes on a group or dataset ("/" for the root).
  bool has_attr(const std::string& object, const std::string& name) const;
  double read_attr_double(const std::string& object, const std::string& name) const;
  int64_t read_attr_int(const std::string& object, const std::string& name) const;
  std::string read_attr_string(const std::string& object, const std::string& name) const;
  std::vector<double> read_attr_doubles(const std::string& object, const std::string& name) const;
  // A 1-D array of strings (variable length, as h5py writes a list of str).
  std::vector<std::string> read_attr_strings(const std::string& object,
                                             const std::string& name) const;
  void write_attr(const std::string& object, const std::string& name, double value);
  void write_attr(const std::string& object, const std::string& name, int64_t value);
  void write_attr(const std::string& object, const std::string& name, const std::string& value);
  void write_attr(const std::string& object, const std::string& name,
                  const std::vector<double>& values);
  void write_attr(const std::string& object, const std::string& name,
                  const std::vector<std::string>& values);

 private:
  File(int64_t id, std::string path) : id_(id), path_(std::move(path)) {}
  int64_t id_ = -1;
  std::string path_;
};

}  // namespace afinar::hdf5
