// Launchers of the hand-written float32 GEMM kernels, C[M,N] = A[M,K]·B[K,N], row-major device
// arrays. Each variant's file explains what it changes over the previous one:
//   gemm_naive.cu             one thread per output; operands straight from global memory
//   gemm_tiled.cu             32×32 shared-memory tiles: each operand read once per tile
//   gemm_register_blocked.cu  128×128 tiles, 8×8 outputs per thread held in registers
// Benchmark them against cuBLAS: ./build-gpu/bench/afinar_bench --benchmark_filter=Gemm
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

void launch_gemm_naive(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K,
                       cudaStream_t stream);
void launch_gemm_tiled(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K,
                       cudaStream_t stream);
void launch_gemm_register_blocked(float* c, const float* a, const float* b, int64_t M, int64_t N,
                                  int64_t K, cudaStream_t stream);

}  // namespace afinar::cuda
