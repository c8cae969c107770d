// Autograd rules of the elementwise ops (math in include/afinar/ops/elementwise.h).
#include "afinar/ops/elementwise.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {

struct AddBackward : Node {
  double alpha = 1.0;
  const char* name() const override { return "AddBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {needs_input_grad(0) ? g[0] : Tensor(),
            needs_input_grad(1) ? (alpha == 1.0 ? g[0] : ops::mul_scalar(g[0], alpha)) : Tensor()};
  }
};

struct MulBackward : Node {
  SavedTensor a, b;
  const char* name() const override { return "MulBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {needs_input_grad(0) ? ops::mul(g[0], b.get()) : Tensor(),
            needs_input_grad(1) ? ops::mul(g[0], a.get()) : Tensor()};
  }
  void release_saved() override {
    a.release();
    b.release();
  }
};

struct AddScalarBackward : Node {
  const char* name() const override { return "AddScalarBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {g[0]}; }
};

struct MulScalarBackward : Node {
  double s = 1.0;
  const char* name() const override { return "MulScalarBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {ops::mul_scalar(g[0], s)}; }
};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor y = ops::add(a, b, alpha);
  record<AddBackward>(y, {&a, &b}, [&](AddBackward& n) { n.alpha = alpha; });
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return add(a, b, -1.0);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = ops::mul(a, b);
  record<MulBackward>(y, {&a, &b}, [&](MulBackward& n) {
    // Each input's gradient needs the other input: save only what will be used.
    if (n.needs_input_grad(0)) n.b = SavedTensor(b);
    if (n.needs_input_grad(1)) n.a = SavedTensor(a);
  });
  return y;
}

Tensor add(const Tensor& a, double s) {
  Tensor y = ops::add_scalar(a, s);
  record<AddScalarBackward>(y, {&a}, [](AddScalarBackward&) {});
  return y;
}

Tensor mul(const Tensor& a, double s) {
  Tensor y = ops::mul_scalar(a, s);
  record<MulScalarBackward>(y, {&a}, [&](MulScalarBackward& n) { n.s = s; });
  return y;
}

Tensor neg(const Tensor& a) {
  return mul(a, -1.0);
}

}  // namespace afinar
