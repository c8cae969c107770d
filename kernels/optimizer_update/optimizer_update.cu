// Multi-tensor optimizer updates: a whole parameter group in one launch. The host cuts every
// tensor into chunks of up to 64K elements and uploads a table of chunk pointers (a few KB for
// ResNet18's 62 tensors); block b updates chunk b with the element rule of ops/optimizer_rule.h,
// shared with the CPU reference. One launch instead of one per tensor matters for the many small
// tensors of a CNN (biases, BN affine parameters), where launch latency would dominate.
//
// Bench: afinar_bench --benchmark_filter=OptimizerUpdate (memory-bound: SGD with momentum moves
// 20 bytes per f32 element, Adam 28, RMSprop 20 (28 with momentum)).
#include "common.cuh"
#include "optimizer_update/optimizer_update.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

template <typename T>
__global__ void sgd_update_kernel(const UpdateChunk<T>* chunks, bool init, SgdHyper h) {
  const UpdateChunk<T> c = chunks[blockIdx.x];
  for (int64_t j = threadIdx.x; j < c.n; j += blockDim.x)
    sgd_update_element(c.param[j], c.grad[j], c.state[0] ? c.state[0] + j : nullptr, init, h);
}

template <typename T>
__global__ void adam_update_kernel(const UpdateChunk<T>* chunks, AdamHyper h) {
  const UpdateChunk<T> c = chunks[blockIdx.x];
  for (int64_t j = threadIdx.x; j < c.n; j += blockDim.x)
    adam_update_element(c.param[j], c.grad[j], c.state[0][j], c.state[1][j],
                        c.state[2] ? c.state[2] + j : nullptr, h);
}

template <typename T>
__global__ void rmsprop_update_kernel(const UpdateChunk<T>* chunks, RmspropHyper h) {
  const UpdateChunk<T> c = chunks[blockIdx.x];
  for (int64_t j = threadIdx.x; j < c.n; j += blockDim.x)
    rmsprop_update_element(c.param[j], c.grad[j], c.state[0][j],
                           c.state[1] ? c.state[1] + j : nullptr,
                           c.state[2] ? c.state[2] + j : nullptr, h);
}

}  // namespace

template <typename T>
void launch_sgd_update(const UpdateChunk<T>* chunks, int64_t num_chunks, bool init_buffers,
                       const SgdHyper& hyper, cudaStream_t stream) {
  if (num_chunks == 0) return;
  sgd_update_kernel<T>
      <<<unsigned(num_chunks), kThreadsPerBlock, 0, stream>>>(chunks, init_buffers, hyper);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_adam_update(const UpdateChunk<T>* chunks, int64_t num_chunks, const AdamHyper& hyper,
                        cudaStream_t stream) {
  if (num_chunks == 0) return;
  adam_update_kernel<T><<<unsigned(num_chunks), kThreadsPerBlock, 0, stream>>>(chunks, hyper);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_rmsprop_update(const UpdateChunk<T>* chunks, int64_t num_chunks,
                           const RmspropHyper& hyper, cudaStream_t stream) {
  if (num_chunks == 0) return;
  rmsprop_update_kernel<T><<<unsigned(num_chunks), kThreadsPerBlock, 0, stream>>>(chunks, hyper);
  AFN_CUDA_LAUNCH_CHECK();
}

template void launch_sgd_update<float>(const UpdateChunk<float>*, int64_t, bool, const SgdHyper&,
                                       cudaStream_t);
template void launch_sgd_update<double>(const UpdateChunk<double>*, int64_t, bool, const SgdHyper&,
                                        cudaStream_t);
template void launch_adam_update<float>(const UpdateChunk<float>*, int64_t, const AdamHyper&,
                                        cudaStream_t);
template void launch_adam_update<double>(const UpdateChunk<double>*, int64_t, const AdamHyper&,
                                         cudaStream_t);

template void launch_rmsprop_update<float>(const UpdateChunk<float>*, int64_t, const RmspropHyper&,
                                           cudaStream_t);
template void launch_rmsprop_update<double>(const UpdateChunk<double>*, int64_t,
                                            const RmspropHyper&, cudaStream_t);

}  // namespace afinar::cuda
