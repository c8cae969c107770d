// Error checks for CUDA, cuBLAS and cuDNN calls (host .cpp code): each throws afinar::Error with
// the expression, file, line and the library's own message. Kernel launches are checked with
// AFN_CUDA_LAUNCH_CHECK() (runtime/launch_check.h).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "afinar/core/check.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

[[noreturn]] void throw_cuda_error(const char* expr, const char* file, int line, cudaError_t e);
[[noreturn]] void throw_cublas_error(const char* expr, const char* file, int line,
                                     cublasStatus_t s);
[[noreturn]] void throw_cudnn_error(const char* expr, const char* file, int line, cudnnStatus_t s);
// True when AFINAR_CUDA_SYNC=1 (read once).
bool debug_sync_enabled();

}  // namespace afinar::cuda

#define AFN_CUDA_CHECK(expr)                                              \
  do {                                                                    \
    const cudaError_t afn_e = (expr);                                     \
    if (afn_e != cudaSuccess) [[unlikely]]                                \
      ::afinar::cuda::throw_cuda_error(#expr, __FILE__, __LINE__, afn_e); \
  } while (0)

#define AFN_CUBLAS_CHECK(expr)                                              \
  do {                                                                      \
    const cublasStatus_t afn_s = (expr);                                    \
    if (afn_s != CUBLAS_STATUS_SUCCESS) [[unlikely]]                        \
      ::afinar::cuda::throw_cublas_error(#expr, __FILE__, __LINE__, afn_s); \
  } while (0)

#define AFN_CUDNN_CHECK(expr)                                              \
  do {                                                                     \
    const cudnnStatus_t afn_s = (expr);                                    \
    if (afn_s != CUDNN_STATUS_SUCCESS) [[unlikely]]                        \
      ::afinar::cuda::throw_cudnn_error(#expr, __FILE__, __LINE__, afn_s); \
  } while (0)
