// Host side of the kernels' invalid-index flags (loss targets, topk_backward indices): an 8-byte
// device word that starts as all ones and that kernels lower with atomicMin to the smallest flat
// position holding a bad index. Reading it back is what turns bad data into an afinar::Error
// without a device-side assert (which would poison the CUDA context for the whole process).
//
// Cost: one 8-byte device-to-host copy and a synchronisation of the compute stream per op call
// (~10-20 us, and the host waits for the queued work, so it cannot run ahead of the GPU past this
// op). A second 8-byte copy fetches the offending value only when there is one.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "runtime/cuda_check.h"

namespace afinar::cuda {

inline constexpr unsigned long long kFlagClear = ~0ull;

inline void clear_flag(unsigned long long* flag, cudaStream_t stream) {
  AFN_CUDA_CHECK(cudaMemsetAsync(flag, 0xff, sizeof(*flag), stream));
}

// A device value after every queued kernel of the stream has run.
template <typename V>
V read_device_value(const V* p, cudaStream_t stream) {
  V v{};
  AFN_CUDA_CHECK(cudaMemcpyAsync(&v, p, sizeof(V), cudaMemcpyDeviceToHost, stream));
  AFN_CUDA_CHECK(cudaStreamSynchronize(stream));
  return v;
}

}  // namespace afinar::cuda
