// Dynamic loss scaling's device steps (include/afinar/ops/amp_scale.h), as PyTorch's
// _amp_foreach_non_finite_check_and_unscale_ and _amp_update_scale_ CUDA kernels.
//   unscale: multi-tensor, like the optimizer updates: the host cuts every gradient of a dtype
//     into chunks of up to 64K elements, block b takes chunk b, one launch for the whole list.
//     Each thread reads the scale from device memory and forms inv_scale = float(1 / double(scale))
//     itself (no reciprocal kernel, no host read); values are computed in compute_t<T> (float for
//     the 16-bit types, as the CPU reference and PyTorch's opmath) and rounded once when stored.
//     A block that saw an inf or NaN (in the value before scaling) stores 1 into found_inf; the
//     flag is never cleared here, so concurrent blocks and successive calls only ever set it.
//   update: one thread, the CPU reference's expressions exactly: the factors are doubles, the
//     scale float, so scale · factor is formed in double and rounded to float once.
// Memory-bound: each gradient is read and written once.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "amp_scale/amp_scale.h"
#include "common.cuh"
#include "runtime/compute_type.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

template <typename T>
__global__ void amp_unscale_kernel(const UnscaleChunk<T>* __restrict__ chunks,
                                   float* __restrict__ found_inf, const float* __restrict__ scale) {
  using A = compute_t<T>;
  const UnscaleChunk<T> c = chunks[blockIdx.x];
  const A inv_scale = A(float(1.0 / double(*scale)));
  bool inf = false;
  for (int64_t j = threadIdx.x; j < c.n; j += blockDim.x) {
    const A v = A(c.data[j]);
    if (!isfinite(v)) inf = true;
    c.data[j] = T(v * inv_scale);
  }
  if (__syncthreads_or(inf) && threadIdx.x == 0) *found_inf = 1.0f;
}

__global__ void amp_update_scale_kernel(float* __restrict__ scale, int32_t* __restrict__ tracker,
                                        const float* __restrict__ found_inf, double growth_factor,
                                        double backoff_factor, int64_t growth_interval) {
  if (*found_inf != 0.0f) {
    *scale = float(double(*scale) * backoff_factor);
    *tracker = 0;
    return;
  }
  const int64_t successful = int64_t(*tracker) + 1;
  if (successful == growth_interval) {
    const float grown = float(double(*scale) * growth_factor);
    if (isfinite(grown)) *scale = grown;
    *tracker = 0;
  } else {
    *tracker = int32_t(successful);
  }
}

}  // namespace

template <typename T>
void launch_amp_unscale(const UnscaleChunk<T>* chunks, int64_t num_chunks, float* found_inf,
                        const float* scale, cudaStream_t stream) {
  if (num_chunks == 0) return;
  amp_unscale_kernel<T>
      <<<unsigned(num_chunks), kThreadsPerBlock, 0, stream>>>(chunks, found_inf, scale);
  AFN_CUDA_LAUNCH_CHECK();
}

void launch_amp_update_scale(float* scale, int32_t* growth_tracker, const float* found_inf,
                             double growth_factor, double backoff_factor, int64_t growth_interval,
                             cudaStream_t stream) {
  amp_update_scale_kernel<<<1, 1, 0, stream>>>(scale, growth_tracker, found_inf, growth_factor,
                                               backoff_factor, growth_interval);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                                   \
  template void launch_amp_unscale<T>(const UnscaleChunk<T>*, int64_t, float*, const float*, \
                                      cudaStream_t);
AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
