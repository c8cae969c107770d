// CUDA events for ordering work across the compute and copy streams, and for knowing when a block
// of memory the GPU read is free again. Creating an event costs a driver call; recording one is
// cheap, so a pool per device keeps them (timing disabled: these events only order and signal).
#pragma once

#include <cuda_runtime_api.h>

namespace afinar::cuda {

cudaEvent_t acquire_event(int device);
void release_event(int device, cudaEvent_t event);

// Makes everything queued on `waiter` from now on wait for the work queued on `producer` so far,
// without blocking the host (cudaEventRecord + cudaStreamWaitEvent).
void stream_wait(int device, cudaStream_t waiter, cudaStream_t producer);

}  // namespace afinar::cuda
