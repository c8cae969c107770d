// Matrix product of 2-D tensors, C = A·B, with A [M,K] and B [K,N] row-major.
//
//   forward:   C_mn = Σ_k A_mk B_kn            (2·M·N·K flops)
//   backward:  dL/dA = G·Bᵀ   [M,K]            dL/dB = Aᵀ·G   [K,N]
//
// The algorithm is selectable, for teaching and benchmarking (kernels/gemm/ explains each):
//   Default          the fastest correct one per device: OpenBLAS on the CPU, cuBLAS on CUDA
//   Blas             OpenBLAS (cpu) / cuBLAS (cuda) explicitly
//   Naive            one thread per output, every operand from global memory (cuda; cpu: loops)
//   Tiled            shared-memory tiles, one output per thread (cuda, float32)
//   RegisterBlocked  128×128 block tiles, 8×8 outputs per thread in registers (cuda, float32)
// On CUDA, float32 Blas/Default use TF32 tensor cores only when allow_tf32_matmul(true) was set
// (PyTorch's default: off for matmul).
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

enum class MatmulAlgo { Default, Blas, Naive, Tiled, RegisterBlocked };

Tensor matmul(const Tensor& a, const Tensor& b, MatmulAlgo algo = MatmulAlgo::Default);

// torch.backends.cuda.matmul.allow_tf32: false by default, as in PyTorch.
void allow_tf32_matmul(bool allow);
bool tf32_matmul_allowed();

namespace ops {

Tensor matmul(const Tensor& a, const Tensor& b, MatmulAlgo algo);

// Backend kernel: c [M,N] = a [M,K] · b [K,N], all contiguous, c preallocated.
using MatmulFn = void(const Tensor& c, const Tensor& a, const Tensor& b, MatmulAlgo algo);
AFN_DECLARE_KERNEL(matmul, MatmulFn);

}  // namespace ops
}  // namespace afinar
