// Storage: one block of memory shared by every tensor that views it. CPU memory is 64-byte
// aligned (one cache line, one AVX-512 vector). CUDA memory comes from a caching allocator
// (kernels/runtime/caching_allocator.cpp): freed blocks go to size-binned free lists and are
// reused in stream order, so a steady-state training step makes no cudaMalloc call.
//
// Asynchronous host-to-device copies need two more kinds of memory (MemoryKind): page-locked
// ("pinned") host memory, which the GPU's copy engine reads by DMA while the host goes on, and
// device blocks written on the copy stream, which stay reserved until the compute stream has
// finished with them (kernels/runtime/pinned_allocator.cpp, caching_allocator.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "afinar/core/device.h"

namespace afinar {

// Where a block's memory comes from, beyond its device.
enum class MemoryKind : uint8_t {
  Default,     // cpu: aligned heap memory; cuda: caching allocator, compute-stream order
  Pinned,      // cpu only: page-locked memory (needs a CUDA GPU), source of async copies
  CopyStream,  // cuda only: written on the copy stream, then read on the compute stream
};

class Storage {
 public:
  // Allocates `nbytes` on `device`, uninitialised. Pinned needs a cpu device and a visible GPU;
  // CopyStream a cuda device.
  Storage(size_t nbytes, Device device, MemoryKind kind = MemoryKind::Default);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  const Device& device() const { return device_; }
  MemoryKind kind() const { return kind_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  MemoryKind kind_;
};

// Memory held by afinar on one device, in bytes (like torch.cuda.memory_allocated / _reserved /
// max_memory_allocated). On the cpu, reserved == allocated.
struct MemoryStats {
  size_t allocated = 0;            // in live tensors (rounded block sizes on CUDA)
  size_t reserved = 0;             // obtained from the device (cudaMalloc), cached blocks included
  size_t peak_allocated = 0;       // highest `allocated` since start or the last reset
  int64_t device_allocations = 0;  // cudaMalloc calls made (steady state: no new ones)
};

MemoryStats memory_stats(const Device& device);
void reset_peak_memory_stats(const Device& device);
// Returns cached, unused blocks to the device (torch.cuda.empty_cache). No-op on the cpu.
void empty_cache(const Device& device);
// Waits for all work queued on the device. No-op on the cpu.
void synchronize(const Device& device);

// Bytes of CPU storage currently allocated by afinar (for leak and memory tests).
size_t cpu_bytes_allocated();

}  // namespace afinar
