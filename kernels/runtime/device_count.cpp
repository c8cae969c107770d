// The one place the core asks the CUDA runtime how many GPUs it sees. A machine without a GPU (or
// without a driver) answers 0 rather than an error: the CPU build must keep working there.
#include <cuda_runtime_api.h>

namespace afinar {

int cuda_runtime_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error so later calls start clean
    return 0;
  }
  return n;
}

}  // namespace afinar
