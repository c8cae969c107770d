// Goldens from PyTorch: tests/data/goldens/<op>.h5, made by tools/goldens/<op>.py (see
// tools/goldens/README.md). Each file holds one group per case; a case's datasets are tensors
// (inputs, outputs, gradients) and its attributes the op's arguments.
//
//   for (const GoldenCase& c : load_goldens("conv2d")) {
//     Tensor y = conv2d(c.tensor("x"), c.tensor("weight"), {}, {.stride = c.attr_int("stride")});
//     EXPECT_ALLCLOSE(y, c.tensor("y"), tol) << c.name;
//   }
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "afinar/io/hdf5.h"

namespace afinar::testing {

struct GoldenCase {
  std::string name;
  std::shared_ptr<hdf5::File> file;

  Tensor tensor(const std::string& key) const { return file->read_tensor("/" + name + "/" + key); }
  bool has(const std::string& key) const { return file->exists("/" + name + "/" + key); }
  int64_t attr_int(const std::string& key) const { return file->read_attr_int("/" + name, key); }
  double attr_double(const std::string& key) const {
    return file->read_attr_double("/" + name, key);
  }
  std::vector<int64_t> attr_ints(const std::string& key) const;
  std::vector<double> attr_doubles(const std::string& key) const {
    return file->read_attr_doubles("/" + name, key);
  }
  bool has_attr(const std::string& key) const { return file->has_attr("/" + name, key); }
};

// Path of a file under tests/data (the source tree's, found through AFINAR_TEST_DATA_DIR).
std::string test_data_path(const std::string& relative);
// Every case in tests/data/goldens/<op>.h5; fails the test (throws) if the file is missing.
std::vector<GoldenCase> load_goldens(const std::string& op);

}  // namespace afinar::testing
