#include "afinar/autograd/engine.h"

#include <gtest/gtest.h>

#include "afinar/autograd/grad_mode.h"
#include "afinar/autograd/node.h"
#include "afinar/ops/activation.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/reduce.h"

namespace afinar {
namespace {

TEST(Autograd, ChainAndFanOutSumGradients) {
  // y = sum(x*x + 3x): dy/dx = 2x + 3; x is used twice, both paths must add up.
  Tensor x = from_vector<double>({1, -2, 0.5}, {3}).set_requires_grad(true);
  Tensor y = sum(x * x + x * 3.0);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, -1, 4}));
}

TEST(Autograd, LeafGradAccumulatesUntilZeroed) {
  Tensor x = from_vector<double>({1, 2}, {2}).set_requires_grad(true);
  sum(x * 2.0).backward();
  sum(x * 2.0).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 4}));
  x.mutable_grad().zero_();
  sum(x * 5.0).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 5}));
}

TEST(Autograd, ExplicitUpstreamGradient) {
  Tensor x = from_vector<double>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(), Error);  // not a scalar: needs an explicit gradient
  y.backward(from_vector<double>({1, 10, 100}, {3}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 20, 200}));
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor a = from_vector<double>({1, 2}, {2}).set_requires_grad(true);
  Tensor b = from_vector<double>({3, 4}, {2}).set_requires_grad(true);
  Tensor y = sum(a * b);
  y.backward();
  try {
    y.backward();
    FAIL() << "a second backward through freed saved tensors must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backward through the graph a second time"),
              std::string::npos);
  }
}

TEST(Autograd, RetainGraphAllowsASecondPass) {
  Tensor a = from_vector<double>({1, 2}, {2}).set_requires_grad(true);
  Tensor b = from_vector<double>({3, 4}, {2});
  Tensor y = sum(a * b);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{6, 8}));
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = ones({2}).set_requires_grad(true);
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Autograd, FrozenInputsGetNoGradientAndNoWork) {
  Tensor frozen = from_vector<double>({1, 2}, {2});  // requires_grad = false
  Tensor w = from_vector<double>({3, 4}, {2}).set_requires_grad(true);
  reset_op_call_counts();
  sum(mul(frozen, w)).backward();
  EXPECT_FALSE(frozen.grad().defined());
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{1, 2}));
  // MulBackward ran once, for w only: one mul kernel call in forward, one in backward.
  EXPECT_EQ(op_call_count("mul"), 2);
}

TEST(Autograd, GraphWithNoTrainableInputIsNotRecorded) {
  Tensor x = ones({3});
  Tensor y = relu(x * 2.0);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THROW(sum(y).backward(), Error);
}

TEST(Autograd, SetRequiresGradOnlyOnFloatingLeaves) {
  Tensor x = ones({2}).set_requires_grad(true);
  Tensor y = x * 2.0;
  EXPECT_FALSE(y.is_leaf());
  EXPECT_THROW(y.set_requires_grad(false), Error);
  EXPECT_THROW(zeros({2}, DType::I64).set_requires_grad(true), Error);
  EXPECT_THROW(x.fill_(1.0), Error);  // in-place on a trainable leaf with grad mode on
  NoGradGuard g;
  x.fill_(1.0);  // fine under no_grad (optimizer updates)
}

TEST(Autograd, GradientsFlowThroughViews) {
  Tensor x = arange(6, DType::F64).reshape({2, 3}).detach().set_requires_grad(true);
  // y = sum over the transposed first row-slice, weighted by position
  Tensor v = x.transpose(0, 1).slice(0, 1, 3).contiguous().flatten();  // x[:,1:3] as 4 values
  Tensor y = sum(v * from_vector<double>({1, 2, 3, 4}, {4}));
  y.backward();
  // v = [x01, x11, x02, x12] -> weights 1,2,3,4 land there; column 0 gets nothing
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 3, 0, 2, 4}));
}

TEST(Autograd, LeafGradientsNeverShareStorage) {
  // add's backward sends the same gradient tensor to both inputs; the first leaf may keep a
  // gradient only it holds, never one the other leaf also receives.
  Tensor a = zeros({3}, DType::F64).set_requires_grad(true);
  Tensor b = zeros({3}, DType::F64).set_requires_grad(true);
  add(a, b).backward(ones({3}, DType::F64));
  a.mutable_grad().fill_(7.0);
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 1, 1}));
  // The upstream gradient the caller passed must not become a leaf's .grad either.
  Tensor c = zeros({2}, DType::F64).set_requires_grad(true);
  Tensor up = ones({2}, DType::F64);
  (c + 1.0).backward(up);  // AddScalarBackward passes `up` itself through to the leaf
  c.mutable_grad().fill_(5.0);
  EXPECT_EQ(up.to_vector<double>(), (std::vector<double>{1, 1}));
}

TEST(Autograd, SavedOutputsDoNotLeakMemory) {
  const size_t before = cpu_bytes_allocated();
  {
    Tensor x = ones({1000}).set_requires_grad(true);
    Tensor y = relu(x);  // ReluBackward saves y: no reference cycle may keep it alive
  }
  EXPECT_EQ(cpu_bytes_allocated(), before);
}

}  // namespace
}  // namespace afinar
