// Per-device CUDA state, created once on first use: the compute stream every op runs on, a copy
// stream for host-to-device transfers that overlap compute, and the cuBLAS / cuDNN handles bound
// to the compute stream. Ops take these from here; nothing else creates streams or handles.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

namespace afinar::cuda {

cudaStream_t compute_stream(int device);
cudaStream_t copy_stream(int device);
cublasHandle_t cublas_handle(int device);
cudnnHandle_t cudnn_handle(int device);

// Makes `device` current for the scope (kernels launch on the current device).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

}  // namespace afinar::cuda
