// Checks of data only the device sees (loss targets, topk_backward and max_pool2d_backward
// indices), reported without making the host wait inside the op: a training step queues all its
// kernels with no synchronisation (issue 6), and bad data still becomes an afinar::Error, never a
// device assert (which would poison the CUDA context for the whole process).
//
// An op takes a flag word from deferred_flag() before its launches: a device word that reads
// kFlagClear (all ones) until one of its kernels lowers it with atomicMin (to the first bad row or
// flat position; each op says what its values mean). The outstanding words of a device are read
// back together, with one copy, where the host waits for the device anyway: a copy to the host
// (Tensor::cpu(), item(), to_vector()), synchronize(), or when kSlots of them are outstanding.
// The first lowered word, in the order the ops ran, becomes the error thrown there, carrying the
// op's own message and saying that an earlier op found it. PyTorch reports its device asserts at
// the next synchronisation too. With AFINAR_CUDA_SYNC=1 every op checks before it returns
// (check_if_debugging), so the error comes from the op that found it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <string>

#include "runtime/cuda_check.h"

namespace afinar::cuda {

inline constexpr unsigned long long kFlagClear = ~0ull;

// The error for a flag a kernel lowered to `value`, or "" when the value is no error (see
// max_pool2d_backward's off-window indices). Called on the host once the device has run the op, so
// it may read device memory (read_device_value); it keeps alive what it captures until then.
using FlagMessage = std::function<std::string(unsigned long long value)>;

// A cleared flag word on `device` for the op about to be queued on its compute stream.
unsigned long long* deferred_flag(int device, FlagMessage message);

// Reads `device`'s outstanding flags and throws the first error among them. Synchronises the
// compute stream only when some are outstanding.
void check_deferred(int device);

// check_deferred(device) when AFINAR_CUDA_SYNC=1: called by an op after its launches.
void check_if_debugging(int device);

// A device value after every queued kernel of the stream has run (one copy, one synchronisation).
template <typename V>
V read_device_value(const V* p, cudaStream_t stream) {
  V v{};
  AFN_CUDA_CHECK(cudaMemcpyAsync(&v, p, sizeof(V), cudaMemcpyDeviceToHost, stream));
  AFN_CUDA_CHECK(cudaStreamSynchronize(stream));
  return v;
}

}  // namespace afinar::cuda
