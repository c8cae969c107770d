// Launcher of topk_correct on contiguous device data (topk_correct.cu explains the kernel).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

// count (one int64 on the device, zeroed by the caller) += rows of logits [N, C] whose target
// ranks in the top k.
template <typename T>
void launch_topk_correct(int64_t* count, const T* logits, const int64_t* target, int64_t N,
                         int64_t C, int64_t k, cudaStream_t stream);

}  // namespace afinar::cuda
