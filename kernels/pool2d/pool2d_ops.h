// Tensor-level CUDA pooling shared by the max_pool2d / avg_pool2d and adaptive pool registrations
// (host C++, defined in pool2d.cpp): each op only lays out its PoolGeometry, as on the CPU.
#pragma once

#include "afinar/core/tensor.h"
#include "pool2d/pool2d.h"

namespace afinar::cuda {

// N, C, the input / output sizes of both axes, the strides and the walking order from the
// [N,C,H,W] input and [N,C,P,Q] output tensors (each dense, NCHW or channels-last, one layout per
// call); the window rule (adaptive or kernel/stride/...) is the caller's.
PoolGeometry pool_geometry(const Tensor& input, const Tensor& output);

void max_pool2d_forward_cuda(const Tensor& y, const Tensor& indices, const Tensor& x,
                             const PoolGeometry& g, const char* op);
// Checks the indices on the device (one outside [-1, H·W) is an error at the next
// synchronisation, runtime/deferred_check.h), then gathers; indices that lie off their window
// (legal for the raw op) take the scatter instead, chosen on the device: no synchronisation.
// `op`: a string literal (the error message is built after the call returns).
void max_pool2d_backward_cuda(const Tensor& grad_input, const Tensor& grad_output,
                              const Tensor& indices, const PoolGeometry& g, const char* op);
void avg_pool2d_forward_cuda(const Tensor& y, const Tensor& x, const PoolGeometry& g, AvgDivisor d,
                             const char* op);
void avg_pool2d_backward_cuda(const Tensor& grad_input, const Tensor& grad_output,
                              const PoolGeometry& g, AvgDivisor d, const char* op);

}  // namespace afinar::cuda
