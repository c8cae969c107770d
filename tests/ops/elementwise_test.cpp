#include "afinar/ops/elementwise.h"

#include <gtest/gtest.h>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

using testing::gradcheck;
using testing::leaf_f64;

TEST(Elementwise, MatchesClosedForm) {
  Tensor a = from_vector<float>({1, 2, 3}, {3}), b = from_vector<float>({4, -5, 0.5f}, {3});
  EXPECT_EQ(add(a, b).to_vector<float>(), (std::vector<float>{5, -3, 3.5f}));
  EXPECT_EQ(add(a, b, 2.0).to_vector<float>(), (std::vector<float>{9, -8, 4}));
  EXPECT_EQ(sub(a, b).to_vector<float>(), (std::vector<float>{-3, 7, 2.5f}));
  EXPECT_EQ(mul(a, b).to_vector<float>(), (std::vector<float>{4, -10, 1.5f}));
  EXPECT_EQ((a + 1.0).to_vector<float>(), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ((a * 3.0).to_vector<float>(), (std::vector<float>{3, 6, 9}));
  EXPECT_EQ((-a).to_vector<float>(), (std::vector<float>{-1, -2, -3}));
}

TEST(Elementwise, NonContiguousOperands) {
  Tensor a = arange(6, DType::F32).reshape({2, 3}).transpose(0, 1);  // [[0,3],[1,4],[2,5]]
  Tensor b = ones({3, 2});
  EXPECT_EQ(add(a, b).to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(Elementwise, InPlaceAddAccumulates) {
  Tensor a = from_vector<double>({1, 2}, {2});
  ops::add_(a, from_vector<double>({10, 20}, {2}), 0.5);
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{6, 12}));
}

TEST(Elementwise, RejectsMismatchedOperands) {
  EXPECT_THROW(add(zeros({2, 3}), zeros({3, 2})), Error);  // no silent broadcast
  EXPECT_THROW(add(zeros({3}), zeros({3}, DType::F64)), Error);
  EXPECT_THROW(mul(zeros({3}), Tensor()), Error);
  EXPECT_THROW(add(zeros({3}, DType::I64), zeros({3}, DType::I64)), Error);
}

TEST(Elementwise, GradCheck) {
  Generator gen(1);
  Tensor a = leaf_f64({3, 4}, gen), b = leaf_f64({3, 4}, gen);
  EXPECT_TRUE(
      gradcheck([](const std::vector<Tensor>& in) { return add(in[0], in[1], -0.7); }, {a, b}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return (in[0] + 2.0) * -1.5; }, {a}));
}

}  // namespace
}  // namespace afinar

namespace afinar {
namespace {

// Odd sizes exercise the pack tail; the slice at offset 1 is not 16-byte aligned (scalar path).
TEST(ElementwiseCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(21);
  // bf16: the GPU computes in float and rounds once, as the CPU's float32 path: one bf16 ulp apart
  // at most (fused multiply-adds on one side only).
  for (DType t : {DType::F32, DType::F64, DType::BF16}) {
    for (int64_t n : {1, 5, 1023, (1 << 20) + 3}) {
      Tensor a = randn({n + 1}, DType::F64, gen).to(t).slice(0, 1, n + 1),
             b = randn({n}, DType::F64, gen).to(t);
      Tensor ga = a.cuda(), gb = b.cuda();
      const auto tol = testing::tolerance_for(t, 1, t == DType::BF16 ? 1.0 : 8.0);
      EXPECT_ALLCLOSE(add(ga, gb, 0.5).cpu(), add(a, b, 0.5), tol);
      EXPECT_ALLCLOSE(mul(ga, gb).cpu(), mul(a, b), tol);
      EXPECT_ALLCLOSE((ga * 3.0 + 1.5).cpu(), a * 3.0 + 1.5, tol);
      Tensor acc = gb.clone();
      ops::add_(acc, ga, -2.0);
      EXPECT_ALLCLOSE(acc.cpu(), add(b, a, -2.0), tol);
    }
  }
}

TEST(ElementwiseCuda, BackwardOnDevice) {
  AFN_REQUIRE_CUDA();
  Generator gen(22);
  Tensor a = randn({33}, DType::F64, gen), b = randn({33}, DType::F64, gen);
  Tensor ga = a.cuda().set_requires_grad(true), gb = b.cuda().set_requires_grad(true);
  Tensor ca = a.detach().set_requires_grad(true), cb = b.detach().set_requires_grad(true);
  Tensor up = randn({33}, DType::F64, gen);
  mul(ga, gb).backward(up.cuda());
  mul(ca, cb).backward(up);
  EXPECT_TRUE(ga.grad().device().is_cuda());
  EXPECT_ALLCLOSE(ga.grad().cpu(), ca.grad(), testing::tolerance_for(DType::F64));
  EXPECT_ALLCLOSE(gb.grad().cpu(), cb.grad(), testing::tolerance_for(DType::F64));
}

}  // namespace
}  // namespace afinar
