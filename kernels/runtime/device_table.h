// A small table built on the host (the chunk pointers and sizes of a multi-tensor kernel) sent to
// the device without a synchronisation: written into pinned memory and copied asynchronously on
// the copy stream, which the compute stream waits for; the host does not wait, and the pinned
// block is not reused until the copy has read it (fill.cpp's transfer_async).
#pragma once

#include <cstring>
#include <type_traits>
#include <vector>

#include "afinar/core/tensor.h"

namespace afinar::cuda {

// The entries as a U8 tensor on `device` (the current device), to pass to kernels queued on its
// compute stream; freeing it after the launch is safe (the caching allocator is stream-ordered).
template <typename Entry>
Tensor upload_table(const std::vector<Entry>& entries, const Device& device) {
  static_assert(std::is_trivially_copyable_v<Entry>, "a table is copied as bytes");
  const int64_t bytes = int64_t(entries.size() * sizeof(Entry));
  Tensor host = empty({bytes}, DType::U8, kCPU, MemoryKind::Pinned);
  std::memcpy(host.data<uint8_t>(), entries.data(), size_t(bytes));
  return host.to(device, /*non_blocking=*/true);
}

}  // namespace afinar::cuda
