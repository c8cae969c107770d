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
// earlier ones on the same stream.
//
// Copy-stream blocks (the destinations of asynchronous host-to-device copies, MemoryKind::
// CopyStream) are written on the copy stream and then read on the compute stream, so neither
// stream's order alone says when they are free. They live in a pool of their own: when one is
// freed, an event is recorded on the compute stream, and the block is handed out again only once
// that event has completed (PyTorch's record_stream, for the one pattern we use). The copy stream
// never waits for compute to reuse memory, so a copy can run while the previous batch computes.
//
// AFINAR_CUDA_NO_CACHING=1 (read once, PyTorch's PYTORCH_NO_CUDA_MEMORY_CACHING): every tensor
// gets a cudaMalloc of exactly its size and a cudaFree (which waits for the device) when freed,
// so compute-sanitizer's memcheck sees each tensor's real bounds and every use after free
// (tools/gpu/sanitize.sh). Slow; for checking, not for training.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/cuda_bridge.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"
#include "runtime/events.h"

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

bool caching_disabled() {
  static const bool disabled = [] {
    const char* v = std::getenv("AFINAR_CUDA_NO_CACHING");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return disabled;
}

class CachingAllocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}

  void* allocate(size_t nbytes, bool copy_stream) {
    const size_t size = caching_disabled() ? std::max<size_t>(nbytes, 1) : round_size(nbytes);
    std::lock_guard lock(mu_);
    if (copy_stream) reclaim_completed();
    void* p = take_cached(free_[copy_stream], size);
    if (!p) p = device_malloc(size, nbytes);
    live_[p] = Block{size, copy_stream};
    stats_.allocated += size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return p;
  }

  // Called from Storage's destructor: never throws.
  void deallocate(void* p) noexcept {
    std::lock_guard lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: never free foreign memory
    const Block block = it->second;
    live_.erase(it);
    stats_.allocated -= block.size;
    if (caching_disabled()) {
      try {
        DeviceGuard guard(device_);
        if (cudaFree(p) == cudaSuccess) stats_.reserved -= block.size;
      } catch (const Error&) {
        // The block stays reserved.
      }
      return;
    }
    if (!block.copy_stream) {
      free_[0].emplace(block.size, p);
      return;
    }
    try {
      DeviceGuard guard(device_);
      cudaEvent_t e = acquire_event(device_);
      AFN_CUDA_CHECK(cudaEventRecord(e, compute_stream(device_)));
      pending_.push_back(Pending{e, block.size, p});
    } catch (const Error&) {
      // The block stays reserved and is never handed out again.
    }
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
  struct Block {
    size_t size;
    bool copy_stream;
  };
  // A freed copy-stream block the compute stream may still be reading.
  struct Pending {
    cudaEvent_t compute_done;
    size_t size;
    void* ptr;
  };

  // Best fit among cached blocks no more than 25% larger than the request.
  static void* take_cached(std::multimap<size_t, void*>& free, size_t size) {
    auto it = free.lower_bound(size);
    if (it == free.end() || it->first > size + size / 4) return nullptr;
    void* p = it->second;
    free.erase(it);
    return p;
  }

  // Moves copy-stream blocks whose compute-stream event has completed to their free list.
  void reclaim_completed() {
    for (size_t i = 0; i < pending_.size();) {
      const cudaError_t e = cudaEventQuery(pending_[i].compute_done);
      if (e == cudaErrorNotReady) {
        ++i;
        continue;
      }
      AFN_CUDA_CHECK(e);
      release_event(device_, pending_[i].compute_done);
      free_[1].emplace(pending_[i].size, pending_[i].ptr);
      pending_[i] = pending_.back();
      pending_.pop_back();
    }
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
    if (free_[0].empty() && free_[1].empty() && pending_.empty()) return;
    DeviceGuard guard(device_);
    // Kernels and copies may still be using freed blocks: finish them first. Then every pending
    // copy-stream block is free too.
    AFN_CUDA_CHECK(cudaStreamSynchronize(compute_stream(device_)));
    AFN_CUDA_CHECK(cudaStreamSynchronize(copy_stream(device_)));
    reclaim_completed();
    for (auto& free : free_) {
      for (auto& [size, p] : free) {
        AFN_CUDA_CHECK(cudaFree(p));
        stats_.reserved -= size;
      }
      free.clear();
    }
  }

  int device_;
  std::mutex mu_;
  std::multimap<size_t, void*> free_[2];  // [0]: compute-stream blocks, [1]: copy-stream blocks
  std::vector<Pending> pending_;
  std::unordered_map<void*, Block> live_;
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

void* allocate(size_t nbytes, int device, bool for_copy_stream) {
  return allocator(device).allocate(nbytes, for_copy_stream);
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
