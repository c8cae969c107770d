// The CUDA caching allocator. cudaMalloc and cudaFree synchronise the device and cost tens of
// microseconds, so freed blocks are kept in a free list keyed by size and handed out again:
// after the first training step every request is served from the cache.
//
// Sizes are rounded (512 B steps below 1 MiB, 2 MiB steps above) so that the same tensor shapes
// in the next step find exactly the blocks the last one freed; a cached block is reused for a
// request up to 25% smaller, never split.
//
// Stream order: every op runs on the device's compute stream, so a block freed by the host while
// kernels still read it can be handed to the next op at once — that op's kernels run after the
// earlier ones on the same stream. (Work on another stream that uses a block must record an event
// before the block is freed; the copy stream's users do.)
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/cuda_bridge.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"

namespace afinar::cuda {

namespace {

constexpr size_t kSmallStep = 512;
constexpr size_t kLargeStep = size_t(2) << 20;
constexpr size_t kSmallLimit = size_t(1) << 20;

size_t round_size(size_t n) {
  const size_t step = n < kSmallLimit ? kSmallStep : kLargeStep;
  return (std::max<size_t>(n, 1) + step - 1) / step * step;
}

double mib(size_t bytes) {
  return double(bytes) / double(1 << 20);
}

class CachingAllocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}

  void* allocate(size_t nbytes) {
    const size_t size = round_size(nbytes);
    std::lock_guard lock(mu_);
    void* p = take_cached(size);
    if (!p) p = device_malloc(size, nbytes);
    live_[p] = size;
    stats_.allocated += size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return p;
  }

  void deallocate(void* p) {
    std::lock_guard lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: never free foreign memory
    stats_.allocated -= it->second;
    free_.emplace(it->second, p);
    live_.erase(it);
  }

  MemoryStats stats() {
    std::lock_guard lock(mu_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard lock(mu_);
    stats_.peak_allocated = stats_.allocated;
  }

  void empty_cache() {
    std::lock_guard lock(mu_);
    release_cached();
  }

 private:
  // Best fit among cached blocks no more than 25% larger than the request.
  void* take_cached(size_t size) {
    auto it = free_.lower_bound(size);
    if (it == free_.end() || it->first > size + size / 4) return nullptr;
    void* p = it->second;
    free_.erase(it);
    return p;
  }

  void* device_malloc(size_t size, size_t requested) {
    DeviceGuard guard(device_);
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cached();  // give the cache back and try once more
      e = cudaMalloc(&p, size);
    }
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      AFN_FAIL("CUDA out of memory on cuda:", device_, ": tried to allocate ", mib(requested),
               " MiB; afinar holds ", mib(stats_.allocated), " MiB in live tensors (",
               mib(stats_.reserved), " MiB reserved); the GPU has ", mib(free_b), " MiB free of ",
               mib(total_b), " MiB. Try a smaller batch size or smaller images.");
    }
    AFN_CUDA_CHECK(e);
    stats_.reserved += size;
    ++stats_.device_allocations;
    return p;
  }

  void release_cached() {
    if (free_.empty()) return;
    DeviceGuard guard(device_);
    // Kernels may still be using a freed block on the stream: finish them first.
    AFN_CUDA_CHECK(cudaStreamSynchronize(compute_stream(device_)));
    for (auto& [size, p] : free_) {
      AFN_CUDA_CHECK(cudaFree(p));
      stats_.reserved -= size;
    }
    free_.clear();
  }

  int device_;
  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  std::unordered_map<void*, size_t> live_;
  MemoryStats stats_;
};

CachingAllocator& allocator(int device) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<CachingAllocator>> allocators;
  std::lock_guard lock(mu);
  if (allocators.size() <= size_t(device)) allocators.resize(size_t(device) + 1);
  auto& a = allocators[size_t(device)];
  if (!a) a = std::make_unique<CachingAllocator>(device);
  return *a;
}

}  // namespace

void* allocate(size_t nbytes, int device) {
  return allocator(device).allocate(nbytes);
}
void deallocate(void* ptr, int device) {
  allocator(device).deallocate(ptr);
}
MemoryStats memory_stats(int device) {
  return allocator(device).stats();
}
void reset_peak_memory_stats(int device) {
  allocator(device).reset_peak();
}
void empty_cache(int device) {
  allocator(device).empty_cache();
}

}  // namespace afinar::cuda
