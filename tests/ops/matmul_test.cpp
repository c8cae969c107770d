#include "afinar/ops/matmul.h"

#include <gtest/gtest.h>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

TEST(Matmul, MatchesClosedForm) {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({1, 0, 0, 1, 2, -1}, {3, 2});
  for (MatmulAlgo algo : {MatmulAlgo::Default, MatmulAlgo::Naive})
    EXPECT_EQ(matmul(a, b, algo).to_vector<float>(), (std::vector<float>{7, -1, 16, -1}));
}

TEST(Matmul, BlasMatchesNaive) {
  Generator gen(31);
  for (DType t : {DType::F32, DType::F64}) {
    Tensor a = randn({37, 129}, t, gen), b = randn({129, 65}, t, gen);
    EXPECT_ALLCLOSE(matmul(a, b, MatmulAlgo::Blas), matmul(a, b, MatmulAlgo::Naive),
                    testing::tolerance_for(t, 129));
  }
}

TEST(Matmul, GradCheck) {
  Generator gen(32);
  Tensor a = testing::leaf_f64({3, 4}, gen), b = testing::leaf_f64({4, 5}, gen);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
}

TEST(Matmul, RejectsBadArguments) {
  EXPECT_THROW(matmul(zeros({2, 3}), zeros({2, 3})), Error);
  EXPECT_THROW(matmul(zeros({2, 3, 1}), zeros({3, 2})), Error);
  EXPECT_THROW(matmul(zeros({2, 3}), zeros({3, 2}, DType::F64)), Error);
  EXPECT_THROW(matmul(zeros({2, 3}), zeros({3, 2}), MatmulAlgo::Tiled), Error);  // GPU only
}

// Every CUDA variant against the CPU reference (float64 naive), on sizes that are not multiples
// of any tile, on whole tiles (the vectorised register-blocked path), and on degenerate shapes.
void expect_cuda_variant_matches(MatmulAlgo algo) {
  Generator gen(33);
  const std::vector<std::array<int64_t, 3>> shapes = {
      {1, 1, 1}, {17, 33, 65}, {128, 128, 8}, {256, 384, 64}, {257, 130, 129}, {3, 1000, 2}};
  for (auto [M, N, K] : shapes) {
    Tensor a = randn({M, K}, DType::F32, gen), b = randn({K, N}, DType::F32, gen);
    Tensor ref = matmul(a.to(DType::F64), b.to(DType::F64), MatmulAlgo::Naive);
    Tensor got = matmul(a.cuda(), b.cuda(), algo).cpu();
    EXPECT_ALLCLOSE(got, ref, testing::tolerance_for(DType::F32, K))
        << "M=" << M << " N=" << N << " K=" << K;
  }
}

TEST(GemmCuda, Blas) {
  AFN_REQUIRE_CUDA();
  expect_cuda_variant_matches(MatmulAlgo::Blas);
}
TEST(GemmCuda, Naive) {
  AFN_REQUIRE_CUDA();
  expect_cuda_variant_matches(MatmulAlgo::Naive);
}
TEST(GemmCuda, Tiled) {
  AFN_REQUIRE_CUDA();
  expect_cuda_variant_matches(MatmulAlgo::Tiled);
}
TEST(GemmCuda, RegisterBlocked) {
  AFN_REQUIRE_CUDA();
  expect_cuda_variant_matches(MatmulAlgo::RegisterBlocked);
}

TEST(GemmCuda, Float64AndBackward) {
  AFN_REQUIRE_CUDA();
  Generator gen(34);
  Tensor a = randn({9, 7}, DType::F64, gen), b = randn({7, 5}, DType::F64, gen);
  Tensor ga = a.cuda().set_requires_grad(true), gb = b.cuda().set_requires_grad(true);
  Tensor ca = a.detach().set_requires_grad(true), cb = b.detach().set_requires_grad(true);
  Tensor g = randn({9, 5}, DType::F64, gen);
  matmul(ga, gb).backward(g.cuda());
  matmul(ca, cb).backward(g);
  const auto tol = testing::tolerance_for(DType::F64, 9);
  EXPECT_ALLCLOSE(ga.grad().cpu(), ca.grad(), tol);
  EXPECT_ALLCLOSE(gb.grad().cpu(), cb.grad(), tol);
}

TEST(GemmCuda, Tf32IsOptIn) {
  AFN_REQUIRE_CUDA();
  EXPECT_FALSE(tf32_matmul_allowed());  // PyTorch's default for matmul
  Generator gen(35);
  Tensor a = randn({256, 512}, DType::F32, gen), b = randn({512, 256}, DType::F32, gen);
  Tensor ref = matmul(a.to(DType::F64), b.to(DType::F64));
  allow_tf32_matmul(true);
  Tensor tf32 = matmul(a.cuda(), b.cuda()).cpu();
  allow_tf32_matmul(false);
  // TF32 keeps 10 mantissa bits: per-product error ~2^-11, growing with sqrt(K).
  EXPECT_ALLCLOSE(tf32, ref,
                  (testing::Tolerance{1e-3 * std::sqrt(512.0), 1e-3 * std::sqrt(512.0)}));
}

}  // namespace
}  // namespace afinar
