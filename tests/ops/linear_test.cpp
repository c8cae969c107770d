#include "afinar/ops/linear.h"

#include <gtest/gtest.h>

#include <cmath>

#include "afinar/ops/matmul.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

// y[m, o] = Σ_i x[m, i] W[o, i] + b[o], written out in double (x [M, in], W [out, in], b [out]).
template <typename T>
Tensor naive_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t m = x.size(0), in = x.size(1), out = w.size(0);
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const auto bv = b.defined() ? b.to_vector<double>() : std::vector<double>(size_t(out), 0.0);
  std::vector<T> y(size_t(m * out));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bv[size_t(o)];
      for (int64_t i = 0; i < in; ++i) acc += xv[size_t(r * in + i)] * wv[size_t(o * in + i)];
      y[size_t(r * out + o)] = T(acc);
    }
  return from_vector<T>(y, {m, out});
}

template <typename T>
void check_closed_form(DType dtype) {
  Generator gen(11);
  const int64_t m = 5, in = 7, out = 3;
  Tensor x = randn({m, in}, dtype, gen), w = randn({out, in}, dtype, gen),
         b = randn({out}, dtype, gen);
  const auto tol = testing::tolerance_for(dtype, in);
  EXPECT_ALLCLOSE(linear(x, w, b), naive_linear<T>(x, w, b), tol) << dtype;
  EXPECT_ALLCLOSE(linear(x, w), naive_linear<T>(x, w, Tensor()), tol) << dtype;

  // The backward ops against their closed forms, with g as the "x" of a naive product:
  //   dL/dx = g W = linear(g, Wᵀ),  dL/dW = gᵀ x = linear(gᵀ, xᵀ),  dL/db = gᵀ 1.
  Tensor g = randn({m, out}, dtype, gen);
  EXPECT_ALLCLOSE(ops::linear_backward_input(g, w),
                  naive_linear<T>(g, w.transpose(0, 1).contiguous(), Tensor()),
                  testing::tolerance_for(dtype, out));
  EXPECT_ALLCLOSE(
      ops::linear_backward_weight(g, x),
      naive_linear<T>(g.transpose(0, 1).contiguous(), x.transpose(0, 1).contiguous(), Tensor()),
      testing::tolerance_for(dtype, m));
  EXPECT_ALLCLOSE(
      ops::linear_backward_bias(g),
      naive_linear<T>(g.transpose(0, 1).contiguous(), ones({1, m}, dtype), Tensor()).reshape({out}),
      testing::tolerance_for(dtype, m));
}

TEST(Linear, MatchesClosedForm) {
  check_closed_form<float>(DType::F32);
  check_closed_form<double>(DType::F64);

  // A hand-computed case: x = [1 2], W = [[1 0] [3 -1] [0.5 0.5]], b = [0 1 -2].
  Tensor x = from_vector<double>({1, 2}, {1, 2});
  Tensor w = from_vector<double>({1, 0, 3, -1, 0.5, 0.5}, {3, 2});
  Tensor b = from_vector<double>({0, 1, -2}, {3});
  EXPECT_EQ(linear(x, w, b).to_vector<double>(), (std::vector<double>{1, 2, -0.5}));

  // A non-contiguous input (a transposed view) gives the same result as its contiguous copy.
  Generator gen(12);
  Tensor xt = randn({4, 3}, DType::F64, gen).transpose(0, 1);
  Tensor w2 = randn({2, 4}, DType::F64, gen);
  EXPECT_ALLCLOSE(linear(xt, w2), naive_linear<double>(xt.contiguous(), w2, Tensor()),
                  testing::tolerance_for(DType::F64, 4));
}

TEST(Linear, GradCheck) {
  Generator gen(13);
  Tensor x = testing::leaf_f64({4, 5}, gen), w = testing::leaf_f64({3, 5}, gen),
         b = testing::leaf_f64({3}, gen);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                   {x, w, b});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w});
}

TEST(Linear, LeadingDims) {
  Generator gen(14);
  Tensor x = randn({2, 3, 5}, DType::F64, gen), w = randn({4, 5}, DType::F64, gen),
         b = randn({4}, DType::F64, gen);
  const auto tol = testing::tolerance_for(DType::F64, 5);
  Tensor y = linear(x, w, b);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_ALLCLOSE(y.reshape({6, 4}), naive_linear<double>(x.reshape({6, 5}), w, b), tol);

  // No leading dim at all: x [in] -> y [out], as torch.nn.functional.linear.
  Tensor v = randn({5}, DType::F64, gen);
  Tensor yv = linear(v, w, b);
  ASSERT_EQ(yv.shape(), (Shape{4}));
  EXPECT_ALLCLOSE(yv, naive_linear<double>(v.reshape({1, 5}), w, b).reshape({4}), tol);

  // Zero rows: an empty output, and zero weight / bias gradients.
  Tensor e = zeros({0, 5}, DType::F64);
  EXPECT_EQ(linear(e, w, b).shape(), (Shape{0, 4}));
  Tensor ge = zeros({0, 4}, DType::F64);
  EXPECT_EQ(ops::linear_backward_weight(ge, e).to_vector<double>(), std::vector<double>(20, 0.0));
  EXPECT_EQ(ops::linear_backward_bias(ge).to_vector<double>(), std::vector<double>(4, 0.0));

  // Gradients flow back with the input's own shape.
  Tensor xl = testing::leaf_f64({2, 3, 5}, gen), wl = testing::leaf_f64({4, 5}, gen),
         bl = testing::leaf_f64({4}, gen);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                   {xl, wl, bl});
  EXPECT_EQ(xl.grad().shape(), xl.shape());
}

TEST(Linear, FrozenWeightSkipsWeightGradient) {
  Generator gen(15);
  Tensor x = randn({4, 5}, DType::F32, gen).set_requires_grad(true);
  Tensor w = randn({3, 5}, DType::F32, gen);  // frozen
  Tensor b = randn({3}, DType::F32, gen).set_requires_grad(true);
  Tensor g = randn({4, 3}, DType::F32, gen);

  reset_op_call_counts();
  linear(x, w, b).backward(g);
  EXPECT_EQ(op_call_count("linear_backward_weight"), 0);
  EXPECT_EQ(op_call_count("linear_backward_input"), 1);
  EXPECT_EQ(op_call_count("linear_backward_bias"), 1);
  EXPECT_FALSE(w.grad().defined());
  EXPECT_ALLCLOSE(b.grad(), ops::linear_backward_bias(g), testing::tolerance_for(DType::F32));

  // A trainable head on a frozen input: no input gradient is computed.
  Tensor xf = x.detach();
  Tensor wt = w.detach().set_requires_grad(true);
  reset_op_call_counts();
  linear(xf, wt).backward(g);
  EXPECT_EQ(op_call_count("linear_backward_input"), 0);
  EXPECT_EQ(op_call_count("linear_backward_weight"), 1);
  EXPECT_EQ(op_call_count("linear_backward_bias"), 0);
  EXPECT_TRUE(wt.grad().defined());

  // Nothing requires grad: no node is recorded.
  EXPECT_EQ(linear(xf, w, b.detach()).grad_fn(), nullptr);
}

TEST(Linear, RejectsBadArguments) {
  Tensor x = zeros({4, 5}), w = zeros({3, 5}), b = zeros({3});
  EXPECT_THROW(linear(x, zeros({3, 6})), Error);              // in features differ
  EXPECT_THROW(linear(x, zeros({15})), Error);                // weight not 2-D
  EXPECT_THROW(linear(x, zeros({1, 3, 5})), Error);           // weight not 2-D
  EXPECT_THROW(linear(x, w, zeros({4})), Error);              // bias length
  EXPECT_THROW(linear(x, w, zeros({1, 3})), Error);           // bias not 1-D
  EXPECT_THROW(linear(x, w, zeros({3}, DType::F64)), Error);  // bias dtype
  EXPECT_THROW(linear(x, zeros({3, 5}, DType::F64)), Error);  // weight dtype
  EXPECT_THROW(linear(zeros({4, 5}, DType::I64), zeros({3, 5}, DType::I64)), Error);
  EXPECT_THROW(linear(scalar_tensor(1.0), w), Error);  // 0-D input
  EXPECT_THROW(linear(x, Tensor()), Error);            // missing weight
  EXPECT_THROW(ops::linear_backward_input(zeros({4, 2}), w), Error);
  EXPECT_THROW(ops::linear_backward_weight(zeros({2, 3}), x), Error);  // leading dims differ
  EXPECT_THROW(ops::linear_backward_bias(scalar_tensor(1.0)), Error);

  try {
    linear(x, zeros({3, 6}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linear: input has 5 features"), std::string::npos)
        << e.what();
  }
}

// ---- CUDA ------------------------------------------------------------------------------------
// cuBLAS GEMMs and the bias kernels against the CPU backend (OpenBLAS, itself checked against the
// closed form above) on fresh random inputs.

struct LinearCase {
  const char* name;
  Shape x;  // [..., in]
  int64_t out;
};

// Odd sizes; one row; leading dims; many rows over few columns (the bias gradient splits the rows
// over blocks and adds the slices in a second pass); a 1-wide output; no rows at all.
const LinearCase kLinearCases[] = {
    {"odd", {37, 53}, 29},   {"one_row", {1, 17}, 33}, {"leading_dims", {2, 3, 19}, 7},
    {"tall", {1000, 13}, 7}, {"wide", {5, 300}, 1025}, {"one_output", {9, 8}, 1},
    {"no_rows", {0, 6}, 5},
};

using TolFn = testing::Tolerance (*)(DType, int64_t);

testing::Tolerance fp_tolerance(DType dt, int64_t length) {
  return testing::tolerance_for(dt, length);
}

// TF32 rounds both factors to 10 mantissa bits: each product is off by up to ~2^-10 of itself.
// With terms of magnitude <= 1 (uniform(-1,1) inputs) a sum of L of them is off by about
// 1e-3·sqrt(L) (random walk): that is rtol and atol. Float64 has no TF32.
testing::Tolerance tf32_tolerance(DType dt, int64_t length) {
  if (dt == DType::F64) return testing::tolerance_for(dt, length);
  const double t = 1e-3 * std::sqrt(double(length));
  return {t, t};
}

void expect_linear_cuda_matches_cpu(const LinearCase& c, DType dt, bool with_bias, TolFn tol) {
  SCOPED_TRACE(::testing::Message() << c.name << " " << dt << (with_bias ? " bias" : " no bias"));
  Generator gen(21);
  const int64_t in = c.x.back();
  Shape gshape = c.x;
  gshape.back() = c.out;
  const int64_t rows = numel_of(Shape(c.x.begin(), c.x.end() - 1));
  // uniform(-1, 1): every product has magnitude <= 1, as the TF32 tolerance assumes.
  Tensor x = uniform(c.x, -1, 1, dt, gen), w = uniform({c.out, in}, -1, 1, dt, gen),
         g = uniform(gshape, -1, 1, dt, gen);
  Tensor b = with_bias ? uniform({c.out}, -1, 1, dt, gen) : Tensor();
  Tensor xd = x.cuda(), wd = w.cuda(), gd = g.cuda(), bd = with_bias ? b.cuda() : Tensor();

  Tensor y = ops::linear_forward(xd, wd, bd);
  EXPECT_EQ(y.shape(), gshape);
  EXPECT_EQ(y.device(), testing::kCuda0);
  EXPECT_ALLCLOSE(y.cpu(), ops::linear_forward(x, w, b), tol(dt, in + 1));
  EXPECT_ALLCLOSE(ops::linear_backward_input(gd, wd).cpu(), ops::linear_backward_input(g, w),
                  tol(dt, c.out));
  EXPECT_ALLCLOSE(ops::linear_backward_weight(gd, xd).cpu(), ops::linear_backward_weight(g, x),
                  tol(dt, rows));
  EXPECT_ALLCLOSE(ops::linear_backward_bias(gd).cpu(), ops::linear_backward_bias(g),
                  testing::tolerance_for(dt, rows));  // a plain sum: no TF32
}

TEST(LinearCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  ASSERT_FALSE(tf32_matmul_allowed());  // PyTorch's default: full float32 GEMMs
  for (DType dt : {DType::F32, DType::F64})
    for (const LinearCase& c : kLinearCases)
      for (bool with_bias : {true, false})
        expect_linear_cuda_matches_cpu(c, dt, with_bias, fp_tolerance);
}

TEST(LinearCuda, Tf32MatchesReference) {
  AFN_REQUIRE_CUDA();
  allow_tf32_matmul(true);
  for (DType dt : {DType::F32, DType::F64})
    for (const LinearCase& c : kLinearCases)
      expect_linear_cuda_matches_cpu(c, dt, true, tf32_tolerance);
  allow_tf32_matmul(false);
}

TEST(LinearCuda, AutogradAndFrozenWeight) {
  AFN_REQUIRE_CUDA();
  Generator gen(22);
  Tensor x = randn({6, 11}, DType::F64, gen), w = randn({4, 11}, DType::F64, gen),
         b = randn({4}, DType::F64, gen), g = randn({6, 4}, DType::F64, gen);
  Tensor xc = x.detach().set_requires_grad(true), wc = w.detach().set_requires_grad(true),
         bc = b.detach().set_requires_grad(true);
  Tensor xd = x.cuda().set_requires_grad(true), wd = w.cuda().set_requires_grad(true),
         bd = b.cuda().set_requires_grad(true);
  linear(xc, wc, bc).backward(g);
  linear(xd, wd, bd).backward(g.cuda());
  EXPECT_ALLCLOSE(xd.grad().cpu(), xc.grad(), testing::tolerance_for(DType::F64, 4));
  EXPECT_ALLCLOSE(wd.grad().cpu(), wc.grad(), testing::tolerance_for(DType::F64, 6));
  EXPECT_ALLCLOSE(bd.grad().cpu(), bc.grad(), testing::tolerance_for(DType::F64, 6));

  // A frozen weight on the GPU: no weight-gradient GEMM runs.
  Tensor wf = w.cuda();
  reset_op_call_counts();
  linear(x.cuda().set_requires_grad(true), wf, b.cuda().set_requires_grad(true)).backward(g.cuda());
  EXPECT_EQ(op_call_count("linear_backward_weight"), 0);
  EXPECT_EQ(op_call_count("linear_backward_input"), 1);
  EXPECT_EQ(op_call_count("linear_backward_bias"), 1);
  EXPECT_FALSE(wf.grad().defined());
}

TEST(LinearCuda, RejectsMixedDevices) {
  AFN_REQUIRE_CUDA();
  Tensor x = zeros({4, 5}, DType::F32, testing::kCuda0),
         w = zeros({3, 5}, DType::F32, testing::kCuda0),
         b = zeros({3}, DType::F32, testing::kCuda0);
  EXPECT_THROW(linear(x, w.cpu(), b), Error);
  EXPECT_THROW(linear(x, w, b.cpu()), Error);
  EXPECT_THROW(linear(x.cpu(), w, b), Error);
  EXPECT_THROW(ops::linear_backward_input(zeros({4, 3}), w), Error);
  EXPECT_THROW(ops::linear_backward_weight(zeros({4, 3}), x), Error);
  EXPECT_THROW(linear(x, zeros({3, 5}, DType::F64, testing::kCuda0)), Error);  // dtype
}

}  // namespace
}  // namespace afinar
