#include "runtime/context.h"

#include <memory>
#include <mutex>
#include <vector>

#include "core/cuda_bridge.h"
#include "runtime/cuda_check.h"
#include "runtime/deferred_check.h"

namespace afinar::cuda {

namespace {

struct DeviceContext {
  cudaStream_t compute = nullptr;
  cudaStream_t copy = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
};

// One context per device, made on first use. Never destroyed: handles outlive every static
// tensor, and the driver reclaims them at process exit.
DeviceContext& context(int device) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<DeviceContext>> contexts;
  std::lock_guard lock(mu);
  AFN_CHECK(device >= 0 && device < runtime_device_count(), "cuda:", device,
            " is not a visible device (", runtime_device_count(), " visible)");
  if (contexts.size() <= size_t(device)) contexts.resize(size_t(device) + 1);
  auto& ctx = contexts[size_t(device)];
  if (!ctx) {
    DeviceGuard guard(device);
    ctx = std::make_unique<DeviceContext>();
    AFN_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->compute, cudaStreamNonBlocking));
    AFN_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->copy, cudaStreamNonBlocking));
  }
  return *ctx;
}

}  // namespace

int runtime_device_count() {
  static const int n = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();  // clear the "no device" error: a CPU-only machine is not a failure
      return 0;
    }
    return count;
  }();
  return n;
}

std::string device_description(int device) {
  cudaDeviceProp prop{};
  AFN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return detail::concat(prop.name, ", ", double(prop.totalGlobalMem) / double(1 << 30), " GiB, sm_",
                        prop.major, prop.minor, ", ", prop.multiProcessorCount, " SMs");
}

cudaStream_t compute_stream(int device) {
  return context(device).compute;
}
cudaStream_t copy_stream(int device) {
  return context(device).copy;
}

cublasHandle_t cublas_handle(int device) {
  DeviceContext& ctx = context(device);
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (!ctx.cublas) {
    DeviceGuard guard(device);
    AFN_CUBLAS_CHECK(cublasCreate(&ctx.cublas));
    AFN_CUBLAS_CHECK(cublasSetStream(ctx.cublas, ctx.compute));
  }
  return ctx.cublas;
}

cudnnHandle_t cudnn_handle(int device) {
  DeviceContext& ctx = context(device);
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (!ctx.cudnn) {
    DeviceGuard guard(device);
    AFN_CUDNN_CHECK(cudnnCreate(&ctx.cudnn));
    AFN_CUDNN_CHECK(cudnnSetStream(ctx.cudnn, ctx.compute));
  }
  return ctx.cudnn;
}

void synchronize(int device) {
  DeviceGuard guard(device);
  AFN_CUDA_CHECK(cudaStreamSynchronize(compute_stream(device)));
  AFN_CUDA_CHECK(cudaStreamSynchronize(copy_stream(device)));
  check_deferred(device);  // the host waited anyway: report what the ops' kernels flagged
}

DeviceGuard::DeviceGuard(int device) {
  AFN_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) AFN_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  cudaSetDevice(previous_);
}

}  // namespace afinar::cuda
