// Raw little-endian arrays written by the Python scripts of the parity tests (numpy's tofile),
// read back as tensors.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/core/tensor.h"

namespace afinar::testing {

// The file's values of T as a tensor of `shape`; a file of another size is an error.
template <typename T>
Tensor read_raw(const std::string& path, const Shape& shape) {
  std::ifstream in(path, std::ios::binary);
  AFN_CHECK(in, "cannot open ", path);
  std::vector<T> v(size_t(numel_of(shape)));
  const auto bytes = std::streamsize(v.size() * sizeof(T));
  in.read(reinterpret_cast<char*>(v.data()), bytes);
  AFN_CHECK(in.gcount() == bytes && in.peek() == EOF, path, " does not hold ", v.size(), " values");
  return from_vector<T>(v, shape);
}

}  // namespace afinar::testing
