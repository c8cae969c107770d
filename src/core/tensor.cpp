// Tensor metadata, data access, factories and printing. Views and conversions that autograd
// tracks live in src/autograd/functions/view.cpp; data movement goes through ops/fill.h kernels.
#include "afinar/core/tensor.h"

#include <algorithm>
#include <cstring>
#include <iomanip>

#include "afinar/autograd/engine.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/autograd/node.h"
#include "afinar/ops/fill.h"

namespace afinar {

void Tensor::check_defined(const char* what) const {
  AFN_CHECK(impl_ != nullptr, what,
            ": the tensor is undefined (default-constructed or moved from)");
}

int64_t Tensor::size(int64_t d) const {
  return impl_->shape[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int64_t d) const {
  return impl_->strides[wrap_dim(d, dim(), "stride")];
}
int64_t Tensor::numel() const {
  return numel_of(impl_->shape);
}
Device Tensor::device() const {
  return impl_->storage->device();
}

bool Tensor::is_contiguous(MemoryFormat fmt) const {
  check_defined("is_contiguous");
  const Shape& s = impl_->shape;
  Strides want =
      fmt == MemoryFormat::ChannelsLast && s.size() != 4 ? Strides{} : strides_for(s, fmt);
  if (want.size() != s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != 1 && impl_->strides[i] != want[i]) return false;  // size-1 dims: any stride
  return true;
}

void* Tensor::raw_data() const {
  check_defined("data");
  AFN_CHECK(device().is_cpu(), "data(): tensor is on ", device(),
            "; copy it to the cpu (.cpu()) before reading its values on the host");
  return raw_data_ptr();
}

void* Tensor::raw_data_ptr() const {
  check_defined("data_ptr");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * element_size(impl_->dtype);
}

template <typename T>
T Tensor::item() const {
  check_defined("item");
  AFN_CHECK(numel() == 1, "item(): tensor has ", numel(), " elements (shape ", shape(),
            "); item() needs exactly one");
  return to_vector<T>()[0];
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  check_defined("to_vector");
  NoGradGuard no_grad;
  Tensor host = device().is_cpu() ? *this : cpu();
  Tensor c = empty(shape(), dtype_of<T>);
  ops::copy_kernels().get(kCPU)(c, host);
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

namespace {

// Refuses in-place writes into a view where several indices reach one element (a stride-0
// dimension of size > 1, as expand makes): the writes would race (PyTorch's internal-overlap
// check).
void check_writable(const Tensor& t, const char* op) {
  for (int64_t d = 0; d < t.dim(); ++d)
    AFN_CHECK(!(t.stride(d) == 0 && t.size(d) > 1), op, ": the destination (shape ", t.shape(),
              ", strides ", t.strides(), ") has several indices on one element (an expand view); ",
              "write into a copy (.contiguous()) instead");
}

}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  check_defined("copy_");
  check_writable(*this, "copy_");
  src.check_defined("copy_ (source)");
  AFN_CHECK(shape() == src.shape(), "copy_: destination shape ", shape(), " differs from source ",
            src.shape(), " (afinar never broadcasts silently)");
  AFN_CHECK(device() == src.device(), "copy_: destination is on ", device(), ", source on ",
            src.device());
  AFN_CHECK(!(GradMode::is_enabled() && requires_grad() && is_leaf()),
            "copy_: a leaf tensor that requires grad cannot be modified in place while grad mode "
            "is on; wrap the update in NoGradGuard");
  ops::copy_kernels().get(device())(*this, src);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_defined("fill_");
  check_writable(*this, "fill_");
  AFN_CHECK(!(GradMode::is_enabled() && requires_grad() && is_leaf()),
            "fill_: a leaf tensor that requires grad cannot be modified in place while grad mode "
            "is on; wrap the update in NoGradGuard");
  ops::fill_kernels().get(device())(*this, value);
  return *this;
}

// ---- autograd meta ----------------------------------------------------------------------------

bool Tensor::requires_grad() const {
  return impl_ && impl_->autograd.requires_grad;
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  check_defined("set_requires_grad");
  AFN_CHECK(is_leaf(),
            "set_requires_grad: only leaf tensors can change requires_grad (this one "
            "was produced by ",
            impl_->autograd.grad_fn->name(), "); use detach() first");
  AFN_CHECK(!requires_grad || is_floating(dtype()),
            "set_requires_grad: only floating tensors can require gradients, this one is ",
            dtype());
  impl_->autograd.requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const {
  return !impl_ || impl_->autograd.grad_fn == nullptr;
}

const Tensor& Tensor::grad() const {
  check_defined("grad");
  return impl_->autograd.grad;
}
Tensor& Tensor::mutable_grad() {
  check_defined("grad");
  return impl_->autograd.grad;
}
void Tensor::set_grad(const Tensor& g) {
  check_defined("set_grad");
  AFN_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient shape ", g.shape(),
            " differs from the tensor's ", shape());
  impl_->autograd.grad = g;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  check_defined("grad_fn");
  return impl_->autograd.grad_fn;
}
uint32_t Tensor::output_nr() const {
  return impl_ ? impl_->autograd.output_nr : 0;
}

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  check_defined("backward");
  AFN_CHECK(requires_grad(),
            "backward: this tensor does not require grad and has no grad_fn "
            "(did every input have requires_grad=false, or was grad mode off?)");
  Tensor g = grad;
  if (!g.defined()) {
    AFN_CHECK(numel() == 1,
              "backward: an implicit gradient needs a one-element output, this one "
              "has shape ",
              shape(), "; pass the upstream gradient explicitly");
    g = ones(shape(), dtype(), device());
  }
  AFN_CHECK(g.shape() == shape(), "backward: gradient shape ", g.shape(), " differs from output ",
            shape());
  run_backward({*this}, {g}, retain_graph);
}

// ---- factories ----------------------------------------------------------------------------------

Tensor empty_strided(const Shape& shape, const Strides& strides, DType dtype, Device device,
                     MemoryKind kind) {
  AFN_CHECK(shape.size() == strides.size(), "empty_strided: shape ", shape, " and strides ",
            strides, " differ in length");
  for (size_t i = 0; i < shape.size(); ++i)
    AFN_CHECK(shape[i] >= 0 && strides[i] >= 0, "empty_strided: negative size or stride in ", shape,
              " / ", strides);
  // 1 + the largest reachable element offset (0 when a dim is 0), then bytes: sizes from a file
  // must not wrap around into a small allocation.
  const bool none = std::find(shape.begin(), shape.end(), int64_t(0)) != shape.end();
  int64_t span = none ? 0 : 1;
  bool overflow = false;
  for (size_t i = 0; i < shape.size() && !none; ++i) {
    int64_t extent = 0;
    overflow |= __builtin_mul_overflow(shape[i] - 1, strides[i], &extent) ||
                __builtin_add_overflow(span, extent, &span);
  }
  size_t nbytes = 0;
  overflow |= __builtin_mul_overflow(size_t(span), element_size(dtype), &nbytes);
  AFN_CHECK(!overflow, "empty_strided: shape ", shape, " with strides ", strides,
            " spans more bytes than 64 bits can count");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(nbytes, device, kind);
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor empty(const Shape& shape, DType dtype, Device device, MemoryKind kind) {
  numel_of(shape);  // rejects negative sizes with a clear message
  return empty_strided(shape, contiguous_strides(shape), dtype, device, kind);
}
Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1, dtype, device);
}
Tensor empty(const Shape& shape, DType dtype, Device device, MemoryFormat fmt) {
  return empty_strided(shape, strides_for(shape, fmt), dtype, device);
}
Tensor empty_like(const Tensor& t) {
  return empty(t.shape(), t.dtype(), t.device(), suggest_memory_format(t));
}
Tensor zeros_like(const Tensor& t) {
  return empty_like(t).fill_(0.0);
}
Tensor ones_like(const Tensor& t) {
  return empty_like(t).fill_(1.0);
}

MemoryFormat suggest_memory_format(const Tensor& t) {
  // PyTorch's is_channels_last_strides_2d: walk C, W, H, N, each stride at least the extent of
  // the dimensions inside it. Ambiguous cases fall back to Contiguous as in PyTorch: N of stride
  // equal to C's (an [N,1,1,1] tensor), and a zero-size or zero-stride-C tensor.
  if (t.dim() != 4) return MemoryFormat::Contiguous;
  const Shape& s = t.shape();
  const Strides& st = t.strides();
  if (st[1] == 0) return MemoryFormat::Contiguous;
  int64_t min = 0;
  for (int d : {1, 3, 2, 0}) {
    if (s[size_t(d)] == 0 || st[size_t(d)] < min) return MemoryFormat::Contiguous;
    if (d == 0 && min == st[1]) return MemoryFormat::Contiguous;
    min = st[size_t(d)];
    if (s[size_t(d)] > 1) min *= s[size_t(d)];
  }
  return MemoryFormat::ChannelsLast;
}

Tensor arange(int64_t n, DType dtype, Device device) {
  AFN_CHECK(n >= 0, "arange: n must be >= 0, got ", n);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return from_vector(v, {n}).to(dtype).to(device);
}

Tensor randn(const Shape& shape, DType dtype, Generator& gen) {
  return randn(shape, dtype, kCPU, gen);
}

Tensor randn(const Shape& shape, DType dtype, Device device, Generator& gen) {
  if (is_reduced_float(dtype)) return randn(shape, DType::F32, device, gen).to(dtype);
  Tensor t = empty(shape, dtype, device);
  ops::normal_kernels().get(t.device())(t, 0.0, 1.0, gen.seed(),
                                        gen.draw_offset(ops::random_blocks(t.numel(), dtype)));
  return t;
}

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator& gen) {
  return uniform(shape, low, high, dtype, kCPU, gen);
}

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Device device,
               Generator& gen) {
  AFN_CHECK(low <= high, "uniform: low (", low, ") must not exceed high (", high, ")");
  if (is_reduced_float(dtype)) return uniform(shape, low, high, DType::F32, device, gen).to(dtype);
  Tensor t = empty(shape, dtype, device);
  ops::uniform_kernels().get(t.device())(t, low, high, gen.seed(),
                                         gen.draw_offset(ops::random_blocks(t.numel(), dtype)));
  return t;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  AFN_CHECK(int64_t(values.size()) == numel_of(shape), "from_vector: ", values.size(),
            " values do not fill shape ", shape, " (", numel_of(shape), " elements)");
  Tensor t = empty(shape, dtype_of<T>);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}

Tensor scalar_tensor(double value, DType dtype) {
  return full({}, value, dtype);
}

#define AFN_INSTANTIATE(T)                              \
  template T Tensor::item<T>() const;                   \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template Tensor from_vector<T>(const std::vector<T>&, const Shape&);
AFN_INSTANTIATE(float)
AFN_INSTANTIATE(double)
AFN_INSTANTIATE(int64_t)
AFN_INSTANTIATE(int32_t)
AFN_INSTANTIATE(uint8_t)
AFN_INSTANTIATE(BFloat16)
AFN_INSTANTIATE(Half)
#undef AFN_INSTANTIATE

// ---- printing -----------------------------------------------------------------------------------

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(shape=" << t.shape() << ", dtype=" << t.dtype() << ", device=" << t.device();
  if (t.requires_grad()) os << ", requires_grad";
  if (t.grad_fn()) os << ", grad_fn=" << t.grad_fn()->name();
  {
    NoGradGuard no_grad;
    constexpr int64_t kShown = 6;
    std::vector<double> v = t.numel() <= kShown
                                ? t.to_vector<double>()
                                : t.flatten().slice(0, 0, kShown).to_vector<double>();
    os << ", values=[";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << std::setprecision(6) << v[i];
    if (t.numel() > kShown) os << ", ...";
    os << "]";
  }
  return os << ")";
}

}  // namespace afinar
