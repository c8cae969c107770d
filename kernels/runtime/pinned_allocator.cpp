// The pinned host allocator. cudaHostAlloc page-locks memory through the driver (milliseconds for
// a batch-sized block), so freed blocks are cached by size, as PyTorch's CachingHostAllocator
// does: sizes are rounded up to a power of two and a block is reused for a request of the same
// rounded size. A freed block that an asynchronous copy may still be reading waits in a pending
// list until the events recorded by record_pinned_use have completed.
#include <algorithm>
#include <bit>
#include <map>
#include <mutex>
#include <vector>

#include "core/cuda_bridge.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"
#include "runtime/events.h"
#include "runtime/pinned_allocator.h"

namespace afinar::cuda {

namespace {

struct Use {
  int device;
  cudaEvent_t done;
};

struct Block {
  size_t size = 0;
  bool in_use = false;
  std::vector<Use> uses;  // copies that may still read the block
};

class PinnedAllocator {
 public:
  void* allocate(size_t nbytes) {
    const size_t size = std::bit_ceil(std::max<size_t>(nbytes, 4096));
    std::lock_guard lock(mu_);
    reclaim_completed();
    void* p = nullptr;
    if (auto it = free_.find(size); it != free_.end()) {
      p = it->second;
      free_.erase(it);
    } else {
      const cudaError_t e = cudaHostAlloc(&p, size, cudaHostAllocDefault);
      if (e != cudaSuccess) {
        cudaGetLastError();
        AFN_FAIL("could not page-lock ", nbytes, " bytes of host memory for asynchronous copies (",
                 cudaGetErrorString(e), "); use smaller batches or fewer loader workers");
      }
      blocks_[p].size = size;
    }
    blocks_[p].in_use = true;
    return p;
  }

  // Called from Storage's destructor: never throws.
  void deallocate(void* p) noexcept {
    std::lock_guard lock(mu_);
    auto it = blocks_.find(p);
    if (it == blocks_.end()) return;
    it->second.in_use = false;
    if (it->second.uses.empty()) free_.emplace(it->second.size, p);
    // Otherwise reclaim_completed() frees it once its copies are done.
  }

  void record_use(const void* ptr, int device, cudaStream_t stream) {
    std::lock_guard lock(mu_);
    // The block containing ptr: the last one starting at or before it.
    auto it = blocks_.upper_bound(const_cast<void*>(ptr));
    AFN_CHECK(it != blocks_.begin(), "record_pinned_use: pointer is not in a pinned block");
    --it;
    const auto* begin = static_cast<const char*>(it->first);
    AFN_CHECK(static_cast<const char*>(ptr) < begin + it->second.size,
              "record_pinned_use: pointer is not in a pinned block");
    DeviceGuard guard(device);
    cudaEvent_t e = acquire_event(device);
    AFN_CUDA_CHECK(cudaEventRecord(e, stream));
    it->second.uses.push_back(Use{device, e});
  }

 private:
  // Drops completed uses; blocks that are freed and no longer read go to the free list.
  void reclaim_completed() {
    for (auto& [p, block] : blocks_) {
      if (block.uses.empty()) continue;
      std::erase_if(block.uses, [](const Use& u) {
        const cudaError_t e = cudaEventQuery(u.done);
        if (e == cudaErrorNotReady) return false;
        AFN_CUDA_CHECK(e);
        release_event(u.device, u.done);
        return true;
      });
      if (block.uses.empty() && !block.in_use) free_.emplace(block.size, p);
    }
  }

  std::mutex mu_;
  std::map<void*, Block> blocks_;      // every block ever page-locked, by address
  std::multimap<size_t, void*> free_;  // blocks ready for reuse, by rounded size
};

// Never destroyed: pinned blocks may outlive static tensors; the driver reclaims them at exit.
PinnedAllocator& pinned() {
  static auto* a = new PinnedAllocator();
  return *a;
}

}  // namespace

void* allocate_pinned(size_t nbytes) {
  return pinned().allocate(nbytes);
}
void deallocate_pinned(void* ptr) {
  pinned().deallocate(ptr);
}
void record_pinned_use(const void* ptr, int device, cudaStream_t stream) {
  pinned().record_use(ptr, device, stream);
}

}  // namespace afinar::cuda
