// Launchers of argmax / topk forward and backward on contiguous [outer, C, inner] device blocks
// (topk.cu explains the methods). T is float or double; line = one (outer, inner) pair.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace afinar::cuda {

// indices [outer, inner]: the first maximum of each line (the first NaN if any). C > 0.
template <typename T>
void launch_argmax(int64_t* indices, const T* x, int64_t outer, int64_t C, int64_t inner,
                   cudaStream_t stream);

// How topk selects: WarpSelect for k <= 32 (k passes of a warp-wide minimum), BitonicSort for
// lines of up to 4096 elements (a sort in shared memory), RadixSort otherwise (CUB's segmented
// radix sort in a workspace). Every method returns the k results sorted, ties by lower index.
enum class TopkMethod { WarpSelect, BitonicSort, RadixSort };
TopkMethod topk_method(int64_t C, int64_t k);

// values / indices [outer, k, inner]. Requires 0 < k <= C < 2^31 and a method other than
// RadixSort.
template <typename T>
void launch_topk_select(T* values, int64_t* indices, const T* x, int64_t outer, int64_t C,
                        int64_t inner, int64_t k, bool largest, cudaStream_t stream);
// The RadixSort method. With workspace == nullptr only sets workspace_bytes; then call again with
// that much device memory.
template <typename T>
void launch_topk_radix_sort(T* values, int64_t* indices, const T* x, int64_t outer, int64_t C,
                            int64_t inner, int64_t k, bool largest, void* workspace,
                            size_t& workspace_bytes, cudaStream_t stream);

// grad_input [outer, C, inner] (zero-filled by the caller) += grad_values [outer, k, inner]
// scattered to `indices`, in the order r = 0..k-1 of each line (the CPU's order, so repeated
// indices sum identically). An index outside [0, C) is skipped and its flat position folded
// into *bad (atomicMin; a flag of runtime/deferred_check.h, all ones until then).
template <typename T>
void launch_topk_backward(T* grad_input, const T* grad_values, const int64_t* indices,
                          int64_t outer, int64_t C, int64_t inner, int64_t k,
                          unsigned long long* bad, cudaStream_t stream);

}  // namespace afinar::cuda
