// The kernels behind tensor creation and copying: fill with a constant, strided copy with dtype
// conversion, and counter-based random fills. Tensor methods (fill_, copy_, contiguous, to) and
// factories (zeros, randn, uniform) call these; each backend registers its own.
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar::ops {

// dst[i] = value for every element of dst (any strides).
using FillFn = void(const Tensor& dst, double value);
// dst[i] = convert(src[i]); same shape, any strides, any CPU dtypes on both sides.
using CopyFn = void(const Tensor& dst, const Tensor& src);
// Element i (logical order) of dst from Philox blocks starting at `offset` of stream `seed`:
// uniform on [low, high), or normal with the given mean and std (Box-Muller). dst contiguous.
using UniformFn = void(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset);
using NormalFn = void(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset);

// dst = src between devices: same shape and dtype, both contiguous, one side on the cpu or both
// on CUDA devices. Registered by the CUDA backend (every transfer involves it). `async`: src is
// pinned host memory and dst a CopyStream block; the copy runs on the copy stream, the compute
// stream waits for it, and the host does not.
using TransferFn = void(const Tensor& dst, const Tensor& src, bool async);

AFN_DECLARE_KERNEL(fill, FillFn);
AFN_DECLARE_KERNEL(copy, CopyFn);
AFN_DECLARE_KERNEL(uniform, UniformFn);
AFN_DECLARE_KERNEL(normal, NormalFn);
AFN_DECLARE_KERNEL(transfer, TransferFn);

// Philox blocks (4 words each) a random fill of `numel` elements of `dtype` consumes: 4 f32 values
// per block, 2 f64 values. Generators advance by this so consecutive draws never overlap.
uint64_t random_blocks(int64_t numel, DType dtype);

}  // namespace afinar::ops
