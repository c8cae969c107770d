// The calls the core makes into the CUDA runtime layer (kernels/runtime/), in plain C++ so core
// files need no CUDA headers. Declared only in CUDA builds; every caller sits behind
// AFINAR_WITH_CUDA.
#pragma once

#include <cstddef>
#include <string>

#include "afinar/core/allocator.h"

namespace afinar::cuda {

int runtime_device_count();
std::string device_description(int device);  // name, memory, compute capability
// The caching allocator (kernels/runtime/caching_allocator.cpp). `for_copy_stream`: the block is
// written on the copy stream and read on the compute stream (MemoryKind::CopyStream).
void* allocate(size_t nbytes, int device, bool for_copy_stream);
void deallocate(void* ptr, int device);
// Page-locked host memory, cached (kernels/runtime/pinned_allocator.cpp).
void* allocate_pinned(size_t nbytes);
void deallocate_pinned(void* ptr);
MemoryStats memory_stats(int device);
void reset_peak_memory_stats(int device);
void empty_cache(int device);
void synchronize(int device);

}  // namespace afinar::cuda
