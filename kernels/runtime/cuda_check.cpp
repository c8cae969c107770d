#include "runtime/cuda_check.h"

#include <cstdlib>
#include <cstring>

namespace afinar::cuda {

namespace {
std::string where(const char* expr, const char* file, int line) {
  return detail::concat("\n  call: ", expr, "\n  at ", file, ":", line);
}
}  // namespace

void throw_cuda_error(const char* expr, const char* file, int line, cudaError_t e) {
  throw Error(detail::concat("CUDA error ", cudaGetErrorName(e), ": ", cudaGetErrorString(e),
                             where(expr, file, line)));
}

void throw_cublas_error(const char* expr, const char* file, int line, cublasStatus_t s) {
  throw Error(detail::concat("cuBLAS error ", cublasGetStatusName(s), ": ",
                             cublasGetStatusString(s), where(expr, file, line)));
}

void throw_cudnn_error(const char* expr, const char* file, int line, cudnnStatus_t s) {
  throw Error(detail::concat("cuDNN error: ", cudnnGetErrorString(s), where(expr, file, line)));
}

bool debug_sync_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("AFINAR_CUDA_SYNC");
    return v && std::strcmp(v, "0") != 0 && *v != '\0';
  }();
  return on;
}

void launch_check(const char* file, int line) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess && debug_sync_enabled()) e = cudaDeviceSynchronize();
  if (e != cudaSuccess) throw_cuda_error("kernel launch", file, line, e);
}

}  // namespace afinar::cuda
