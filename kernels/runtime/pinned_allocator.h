// Page-locked host memory for asynchronous host-to-device copies (see core/allocator.h,
// MemoryKind::Pinned). The copy engine reads pinned memory by DMA after cudaMemcpyAsync returns,
// so a pinned block must not be handed out again until every copy that reads it has finished:
// the code that queues such a copy records it here.
#pragma once

#include <cuda_runtime_api.h>

namespace afinar::cuda {

// Records that work queued on `stream` of `device` reads the pinned block containing `ptr`; the
// block is reused only after that work completes. `ptr` may point anywhere inside the block.
void record_pinned_use(const void* ptr, int device, cudaStream_t stream);

}  // namespace afinar::cuda
