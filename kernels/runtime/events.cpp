#include "runtime/events.h"

#include <mutex>
#include <unordered_map>
#include <vector>

#include "runtime/context.h"
#include "runtime/cuda_check.h"

namespace afinar::cuda {

namespace {
std::mutex g_mu;
std::unordered_map<int, std::vector<cudaEvent_t>> g_spare;  // per device
}  // namespace

cudaEvent_t acquire_event(int device) {
  {
    std::lock_guard lock(g_mu);
    auto& spare = g_spare[device];
    if (!spare.empty()) {
      cudaEvent_t e = spare.back();
      spare.pop_back();
      return e;
    }
  }
  DeviceGuard guard(device);
  cudaEvent_t e = nullptr;
  AFN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}

void release_event(int device, cudaEvent_t event) {
  std::lock_guard lock(g_mu);
  g_spare[device].push_back(event);
}

void stream_wait(int device, cudaStream_t waiter, cudaStream_t producer) {
  DeviceGuard guard(device);
  cudaEvent_t e = acquire_event(device);
  // The wait captures the event's state at this call, so the event can go back to the pool and be
  // recorded again by someone else right after.
  AFN_CUDA_CHECK(cudaEventRecord(e, producer));
  AFN_CUDA_CHECK(cudaStreamWaitEvent(waiter, e, 0));
  release_event(device, e);
}

}  // namespace afinar::cuda
