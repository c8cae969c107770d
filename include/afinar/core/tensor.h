// Tensor: a cheap handle (shared TensorImpl) = storage + shape + strides + offset + dtype + device,
// plus autograd meta (requires_grad, grad, grad_fn). Copying a Tensor copies the handle; views
// (reshape, permute, slice, expand, detach) share storage; clone() and contiguous() copy data.
//
//   Tensor x = randn({16, 3, 224, 224});            // f32 on the cpu
//   Tensor w = zeros({64, 3, 7, 7}).set_requires_grad(true);
//   Tensor y = conv2d(x, w, {}, {.stride = 2, .padding = 3});
//   y.sum().backward();                              // w.grad() now holds dL/dw
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <vector>

#include "afinar/core/allocator.h"
#include "afinar/core/device.h"
#include "afinar/core/dtype.h"
#include "afinar/core/rng.h"
#include "afinar/core/shape.h"

namespace afinar {

class Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  // True when both handles are the same tensor (not merely equal values).
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata ----
  const Shape& shape() const;
  const Strides& strides() const;
  int64_t dim() const;
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const;
  int64_t storage_offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous(MemoryFormat fmt = MemoryFormat::Contiguous) const;
  size_t nbytes() const { return size_t(numel()) * element_size(dtype()); }

  // ---- data access ----
  // Pointer to the first element (storage + offset) of a CPU tensor. Checks dtype and device.
  template <typename T>
  T* data() const;
  void* raw_data() const;
  // The same pointer on any device (for backend kernels; device memory must not be read on the
  // host). Checks the dtype.
  template <typename T>
  T* data_ptr() const;
  void* raw_data_ptr() const;
  // The single value of a one-element tensor, converted to T.
  template <typename T>
  T item() const;
  // All values in logical (row-major) order, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- views (share storage; differentiable) ----
  Tensor reshape(const Shape& shape) const;  // one size may be -1; copies when not viewable
  Tensor view(const Shape& shape) const { return reshape(shape); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // [start, end)
  // torch.Tensor.expand: sizes has at least dim() entries, new ones in front; -1 keeps a size;
  // a dimension of size 1 grows to any size with stride 0 (every index reads the same element).
  // A view, so it is read-only: copy_ / fill_ refuse it. Backward sums over the grown dims.
  Tensor expand(const Shape& sizes) const;
  Tensor contiguous(MemoryFormat fmt = MemoryFormat::Contiguous) const;

  // ---- copies and conversions ----
  // The copies below keep the memory format (suggest_memory_format: NCHW or channels-last), as
  // PyTorch's default memory_format=torch.preserve_format; contiguous(fmt) / to(fmt) change it.
  Tensor to(DType dtype) const;  // differentiable between floating dtypes
  // This tensor when suggest_memory_format() is already `fmt`, else a (differentiable) copy with
  // fmt's exact strides, as PyTorch's .to(memory_format=fmt). Unlike contiguous(fmt), it converts
  // a tensor whose layouts coincide ([N,C,1,1], [K,1,R,S]) too, so that its strides say `fmt`.
  Tensor to(MemoryFormat fmt) const;
  // Differentiable; a copy unless already there. non_blocking (as PyTorch): a host-to-device copy
  // from pinned memory is queued on the copy stream and the call returns at once; ops on the
  // result (on the compute stream) wait for the copy. From pageable memory, or towards the host,
  // the copy is synchronous whatever the flag says.
  Tensor to(const Device& device, bool non_blocking = false) const;
  Tensor cuda(int index = 0) const { return to(Device(DeviceType::CUDA, index)); }
  Tensor cpu() const { return to(kCPU); }
  Tensor clone() const;  // differentiable
  // True for cpu tensors in page-locked memory (MemoryKind::Pinned).
  bool is_pinned() const;
  // This tensor in pinned memory (a contiguous copy unless already pinned), the source of
  // asynchronous copies to a GPU. Needs a visible CUDA device, as in PyTorch.
  Tensor pin_memory() const;
  // In place: copy src's values (converted) into this tensor; shapes must match exactly.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // ---- autograd ----
  bool requires_grad() const;
  // Only on leaves (tensors no op produced); returns *this for chaining.
  Tensor& set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  const Tensor& grad() const;  // undefined until a backward reaches this leaf
  Tensor& mutable_grad();
  void set_grad(const Tensor& g);
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;
  // A new handle on the same storage with no autograd history and requires_grad=false.
  Tensor detach() const;
  // Runs backpropagation from this tensor. `grad` defaults to 1 for a one-element tensor; other
  // shapes need an explicit upstream gradient. retain_graph keeps saved tensors for another pass.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  friend std::ostream& operator<<(std::ostream& os, const Tensor& t);

 private:
  void check_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;           // the op that produced this tensor; null for leaves
  uint32_t output_nr = 0;                  // which output of grad_fn this tensor is
  std::shared_ptr<Node> grad_accumulator;  // leaves only, made on first use by the engine
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  DType dtype = DType::F32;
  AutogradMeta autograd;
};

// ---- factories ---------------------------------------------------------------------------------
Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = kCPU,
             MemoryKind kind = MemoryKind::Default);
Tensor empty_strided(const Shape& shape, const Strides& strides, DType dtype = DType::F32,
                     Device device = kCPU, MemoryKind kind = MemoryKind::Default);
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = kCPU);
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = kCPU);
Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = kCPU);
// In the memory format `fmt` (MemoryFormat::ChannelsLast: a 4-D [N,C,H,W] shape stored NHWC).
Tensor empty(const Shape& shape, DType dtype, Device device, MemoryFormat fmt);
// t's shape, dtype, device and memory format (suggest_memory_format(t)), as PyTorch's
// torch.empty_like with its default memory_format=torch.preserve_format for dense tensors.
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);

// PyTorch's Tensor.suggest_memory_format(): ChannelsLast when t is 4-D and its strides order the
// dimensions C (innermost), W, H, N, else Contiguous. It reads the strides, not the values, so a
// tensor whose layouts coincide ([N,C,1,1] or [N,1,H,W]) keeps the format it was made in:
// contiguous(MemoryFormat::ChannelsLast) on such a tensor is still ChannelsLast here.
MemoryFormat suggest_memory_format(const Tensor& t);

// Copies Tensor::contiguous(fmt) and Tensor::to(fmt) have made in this process: the layout
// conversions a channels-last step must not make (bench and tests read the difference).
int64_t contiguous_copy_count();
// 0, 1, ..., n-1.
Tensor arange(int64_t n, DType dtype = DType::I64, Device device = kCPU);
// Standard normal (Box-Muller on Philox draws) and uniform on [low, high); floating dtypes (bf16:
// the float32 draws, rounded). The values depend only on (seed, offset, element): the same on
// every device.
Tensor randn(const Shape& shape, DType dtype = DType::F32, Generator& gen = default_generator());
Tensor randn(const Shape& shape, DType dtype, Device device, Generator& gen = default_generator());
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::F32,
               Generator& gen = default_generator());
Tensor uniform(const Shape& shape, double low, double high, DType dtype, Device device,
               Generator& gen = default_generator());
// Host round trip for tests and tools: copies `values` into a new CPU tensor of that shape.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);
// A one-element 0-D tensor.
Tensor scalar_tensor(double value, DType dtype = DType::F32);

// ---- inline and template definitions ----------------------------------------------------------
inline const Shape& Tensor::shape() const {
  return impl_->shape;
}
inline const Strides& Tensor::strides() const {
  return impl_->strides;
}
inline int64_t Tensor::dim() const {
  return int64_t(impl_->shape.size());
}
inline DType Tensor::dtype() const {
  return impl_->dtype;
}
inline int64_t Tensor::storage_offset() const {
  return impl_->offset;
}

template <typename T>
T* Tensor::data() const {
  check_defined("data");
  AFN_CHECK(impl_->dtype == dtype_of<T>, "data<T>(): tensor has dtype ", impl_->dtype,
            " but the code asked for ", dtype_of<T>);
  return static_cast<T*>(raw_data());
}

template <typename T>
T* Tensor::data_ptr() const {
  check_defined("data_ptr");
  AFN_CHECK(impl_->dtype == dtype_of<T>, "data_ptr<T>(): tensor has dtype ", impl_->dtype,
            " but the code asked for ", dtype_of<T>);
  return static_cast<T*>(raw_data_ptr());
}

}  // namespace afinar
