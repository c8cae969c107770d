// Tensor views and copies that autograd tracks: reshape / flatten / permute / transpose / slice /
// expand share storage (gradients map back through the inverse view); contiguous / clone / to copy.
#include <algorithm>
#include <atomic>
#include <numeric>

#include "afinar/autograd/node.h"
#include "afinar/core/tensor.h"
#include "afinar/ops/fill.h"
#include "afinar/ops/reduce.h"

namespace afinar {

namespace {

// A new handle on t's storage with other shape / strides / offset (no autograd history yet).
Tensor make_view(const Tensor& t, Shape shape, Strides strides, int64_t offset) {
  Tensor v = t.detach();
  v.impl()->shape = std::move(shape);
  v.impl()->strides = std::move(strides);
  v.impl()->offset = offset;
  return v;
}

// Copy of t laid out with `strides` (same shape, dtype, device).
Tensor copy_with_strides(const Tensor& t, const Strides& strides, DType dtype,
                         MemoryKind kind = MemoryKind::Default) {
  Tensor out = empty_strided(t.shape(), strides, dtype, t.device(), kind);
  ops::copy_kernels().get(t.device())(out, t);
  return out;
}

struct ReshapeBackward : Node {
  Shape input_shape;
  const char* name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {g[0].reshape(input_shape)};
  }
};

struct PermuteBackward : Node {
  std::vector<int64_t> inverse;
  const char* name() const override { return "PermuteBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {g[0].permute(inverse)}; }
};

struct SliceBackward : Node {
  Shape input_shape;
  int64_t dim = 0, start = 0, end = 0, step = 1;
  const char* name() const override { return "SliceBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor gi = zeros(input_shape, g[0].dtype(), g[0].device());
    gi.slice(dim, start, end, step).copy_(g[0]);
    return {gi};
  }
};

// y = x.expand(sizes): every element of x is read by all the indices of the grown dims, so
// dL/dx = g summed over them (keepdim), then viewed as x's shape (the new leading dims have size 1
// after the sum and drop out).
struct ExpandBackward : Node {
  Shape input_shape;
  std::vector<int64_t> grown;  // output dims that are new or grew from 1
  const char* name() const override { return "ExpandBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    if (grown.empty()) return {g[0].reshape(input_shape)};
    return {ops::sum(g[0], grown, /*keepdim=*/true).reshape(input_shape)};
  }
};

// contiguous(), clone(): the gradient passes through unchanged.
struct CopyBackward : Node {
  const char* name() const override { return "CopyBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {g[0]}; }
};

struct ToDtypeBackward : Node {
  DType input_dtype = DType::F32;
  const char* name() const override { return "ToDtypeBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {g[0].to(input_dtype)}; }
};

struct ToDeviceBackward : Node {
  Device input_device;
  const char* name() const override { return "ToDeviceBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {g[0].to(input_device)}; }
};

}  // namespace

Tensor Tensor::reshape(const Shape& new_shape) const {
  check_defined("reshape");
  Shape s = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      AFN_CHECK(infer < 0, "reshape: only one size may be -1, got ", new_shape);
      infer = int64_t(i);
    } else {
      AFN_CHECK(s[i] >= 0, "reshape: invalid size ", s[i], " in ", new_shape);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    AFN_CHECK(known != 0 && numel() % known == 0, "reshape: cannot infer the -1 in ", new_shape,
              " for a tensor of shape ", shape(), " (", numel(), " elements)");
    s[size_t(infer)] = numel() / known;
  }
  AFN_CHECK(numel_of(s) == numel(), "reshape: shape ", new_shape,
            " is invalid for a tensor of shape ", shape(), " (", numel(), " elements)");
  // A contiguous tensor is viewed; anything else is copied first (as torch.reshape does).
  Tensor src = is_contiguous() ? *this : contiguous();
  Tensor y = make_view(src, s, contiguous_strides(s), src.storage_offset());
  record<ReshapeBackward>(y, {this}, [&](ReshapeBackward& n) { n.input_shape = shape(); });
  return y;
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  check_defined("flatten");
  if (dim() == 0) return reshape({1});
  const int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  AFN_CHECK(s <= e, "flatten: start_dim (", start_dim, ") comes after end_dim (", end_dim, ")");
  Shape out(shape().begin(), shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= shape()[size_t(d)];
  out.push_back(merged);
  out.insert(out.end(), shape().begin() + e + 1, shape().end());
  return reshape(out);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  check_defined("permute");
  AFN_CHECK(int64_t(dims.size()) == dim(), "permute: got ", dims.size(), " dims for a ", dim(),
            "-D tensor");
  Shape s(dims.size());
  Strides st(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    AFN_CHECK(inverse[size_t(d)] < 0, "permute: dim ", d, " appears twice in the permutation");
    inverse[size_t(d)] = int64_t(i);
    s[i] = shape()[size_t(d)];
    st[i] = strides()[size_t(d)];
  }
  Tensor y = make_view(*this, s, st, storage_offset());
  record<PermuteBackward>(y, {this}, [&](PermuteBackward& n) { n.inverse = inverse; });
  return y;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  check_defined("transpose");
  std::vector<int64_t> dims(static_cast<size_t>(dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[size_t(wrap_dim(d0, dim(), "transpose"))],
            dims[size_t(wrap_dim(d1, dim(), "transpose"))]);
  return permute(dims);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  check_defined("slice");
  d = wrap_dim(d, dim(), "slice");
  AFN_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = shape()[size_t(d)];
  // Python slice semantics: negative bounds count from the end, out-of-range bounds clamp.
  auto clamp = [n](int64_t i) { return std::clamp(i < 0 ? i + n : i, int64_t(0), n); };
  start = clamp(start);
  end = std::max(clamp(end), start);
  Shape s = shape();
  Strides st = strides();
  s[size_t(d)] = (end - start + step - 1) / step;
  st[size_t(d)] *= step;
  Tensor y = make_view(*this, s, st, storage_offset() + start * strides()[size_t(d)]);
  record<SliceBackward>(y, {this}, [&](SliceBackward& node) {
    node.input_shape = shape();
    node.dim = d;
    node.start = start;
    node.end = end;
    node.step = step;
  });
  return y;
}

Tensor Tensor::expand(const Shape& sizes) const {
  check_defined("expand");
  AFN_CHECK(sizes.size() >= size_t(dim()), "expand: got ", sizes.size(), " sizes ", sizes,
            " for a ", dim(), "-D tensor of shape ", shape(),
            "; give at least one size per dimension (new ones go in front)");
  const size_t lead = sizes.size() - size_t(dim());
  Shape s(sizes.size());
  Strides st(sizes.size());
  std::vector<int64_t> grown;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i < lead) {
      AFN_CHECK(sizes[i] >= 0, "expand: size ", sizes[i], " of the new leading dimension ", i,
                " must be >= 0 (-1 only keeps an existing size), got sizes ", sizes);
      s[i] = sizes[i];
      st[i] = 0;
      grown.push_back(int64_t(i));
      continue;
    }
    const int64_t have = shape()[i - lead];
    const int64_t want = sizes[i] == -1 ? have : sizes[i];
    if (want == have) {
      s[i] = have;
      st[i] = strides()[i - lead];
    } else {
      AFN_CHECK(have == 1 && want >= 0, "expand: size ", sizes[i], " at dimension ", i,
                " does not match the existing size ", have, " of shape ", shape(),
                " (only a dimension of size 1 can grow), expanding to ", sizes);
      s[i] = want;
      st[i] = 0;
      grown.push_back(int64_t(i));
    }
  }
  Tensor y = make_view(*this, s, st, storage_offset());
  record<ExpandBackward>(y, {this}, [&](ExpandBackward& n) {
    n.input_shape = shape();
    n.grown = grown;
  });
  return y;
}

namespace {

std::atomic<int64_t> g_contiguous_copies{0};

// A differentiable copy of t with fmt's exact strides: a layout conversion (counted).
Tensor layout_copy(const Tensor& t, MemoryFormat fmt) {
  g_contiguous_copies.fetch_add(1, std::memory_order_relaxed);
  Tensor y = copy_with_strides(t, strides_for(t.shape(), fmt), t.dtype());
  record<CopyBackward>(y, {&t}, [](CopyBackward&) {});
  return y;
}

}  // namespace

int64_t contiguous_copy_count() {
  return g_contiguous_copies.load(std::memory_order_relaxed);
}

Tensor Tensor::contiguous(MemoryFormat fmt) const {
  check_defined("contiguous");
  return is_contiguous(fmt) ? *this : layout_copy(*this, fmt);
}

Tensor Tensor::to(MemoryFormat fmt) const {
  check_defined("to");
  return suggest_memory_format(*this) == fmt ? *this : layout_copy(*this, fmt);
}

Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor y = copy_with_strides(*this, strides_for(shape(), suggest_memory_format(*this)), dtype());
  record<CopyBackward>(y, {this}, [](CopyBackward&) {});
  return y;
}

bool Tensor::is_pinned() const {
  check_defined("is_pinned");
  return impl_->storage->kind() == MemoryKind::Pinned;
}

Tensor Tensor::pin_memory() const {
  check_defined("pin_memory");
  AFN_CHECK(device().is_cpu(), "pin_memory: the tensor is on ", device(),
            "; only cpu tensors can be pinned");
  if (is_pinned()) return *this;
  Tensor y = copy_with_strides(*this, contiguous_strides(shape()), dtype(), MemoryKind::Pinned);
  record<CopyBackward>(y, {this}, [](CopyBackward&) {});
  return y;
}

Tensor Tensor::to(DType target) const {
  check_defined("to");
  if (target == dtype()) return *this;
  Tensor y = copy_with_strides(*this, strides_for(shape(), suggest_memory_format(*this)), target);
  if (is_floating(target)) {
    record<ToDtypeBackward>(y, {this}, [&](ToDtypeBackward& n) { n.input_dtype = dtype(); });
  }
  return y;
}

}  // namespace afinar

namespace afinar {

Tensor Tensor::to(const Device& target, bool non_blocking) const {
  check_defined("to");
  if (target == device()) return *this;
  check_device_available(target);
  // The copy keeps the memory format (as PyTorch's .to): a dense block goes over as it is.
  const MemoryFormat fmt = suggest_memory_format(*this);
  Tensor src = detach().contiguous(fmt);
  // Only a pinned source can be copied without the host waiting; its destination block is then
  // written on the copy stream (MemoryKind::CopyStream).
  const bool async = non_blocking && target.is_cuda() && src.is_pinned();
  Tensor y = empty_strided(shape(), strides_for(shape(), fmt), dtype(), target,
                           async ? MemoryKind::CopyStream : MemoryKind::Default);
  // Every transfer has a CUDA side; its kernel table is keyed by that device.
  const Device cuda_side = target.is_cuda() ? target : device();
  ops::transfer_kernels().get(cuda_side)(y, src, async);
  record<ToDeviceBackward>(y, {this}, [&](ToDeviceBackward& n) { n.input_device = device(); });
  return y;
}

}  // namespace afinar
