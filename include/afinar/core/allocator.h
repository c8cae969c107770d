// Storage: one block of memory shared by every tensor that views it. CPU memory is 64-byte
// aligned (one cache line, one AVX-512 vector). CUDA storage comes with the CUDA backend.
#pragma once

#include <cstddef>
#include <memory>

#include "afinar/core/device.h"

namespace afinar {

class Storage {
 public:
  // Allocates `nbytes` on `device`, uninitialised.
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  const Device& device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

// Bytes of CPU storage currently allocated by afinar (for leak and memory tests).
size_t cpu_bytes_allocated();

}  // namespace afinar
