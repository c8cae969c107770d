#include "testing/gradcheck.h"

#include <cmath>
#include <numeric>
#include <sstream>

#include "afinar/autograd/grad_mode.h"

namespace afinar::testing {

Tensor leaf_f64(const Shape& shape, Generator& gen, double low, double high) {
  return uniform(shape, low, high, DType::F64, gen).set_requires_grad(true);
}

Tensor distinct_leaf_f64(const Shape& shape) {
  const int64_t n = numel_of(shape), mult = 7919;  // a prime: i -> i·mult mod n is a permutation
  EXPECT_EQ(std::gcd(n, mult), 1) << "pick a shape whose numel is not a multiple of " << mult;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double(i * mult % n) / double(n) - 0.5;
  return from_vector<double>(v, shape).set_requires_grad(true);
}

::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& opt) {
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad() && x.dtype() != DType::F64)
      return ::testing::AssertionFailure() << "gradcheck needs float64 inputs, got " << x.dtype();

  // Analytic: one backward of L = sum(u ⊙ y).
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) const_cast<Tensor&>(x).set_grad(Tensor());
  Tensor y = f(inputs);
  Generator gen(opt.seed);
  const Tensor u = uniform(y.shape(), -1.0, 1.0, DType::F64, gen);
  y.backward(u);
  const std::vector<double> uv = u.to_vector<double>();

  auto loss = [&]() {
    NoGradGuard no_grad;
    const std::vector<double> yv = f(inputs).to_vector<double>();
    double l = 0;
    for (size_t k = 0; k < yv.size(); ++k) l += uv[k] * yv[k];
    return l;
  };

  std::ostringstream failures;
  int64_t n_fail = 0, n_checked = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    if (!x.grad().defined())
      return ::testing::AssertionFailure() << "input " << i << " received no gradient";
    const std::vector<double> analytic = x.grad().to_vector<double>();
    Tensor xc = x.detach();  // perturb through a view of the same storage
    if (!xc.is_contiguous())
      return ::testing::AssertionFailure() << "gradcheck inputs must be contiguous";
    double* p = xc.data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      if (opt.skip && opt.skip(i, j)) continue;
      const double saved = p[j];
      p[j] = saved + opt.step;
      const double lp = loss();
      p[j] = saved - opt.step;
      const double lm = loss();
      p[j] = saved;
      const double numeric = (lp - lm) / (2 * opt.step);
      const double a = analytic[size_t(j)];
      const double scale = std::max({std::abs(a), std::abs(numeric), 1.0});
      ++n_checked;
      if (!(std::abs(a - numeric) <= opt.threshold * scale)) {
        if (n_fail++ < 5)
          failures << "\n  input " << i << " element " << j << ": analytic " << a << ", numeric "
                   << numeric;
      }
    }
  }
  if (n_checked == 0) return ::testing::AssertionFailure() << "gradcheck checked no element";
  if (n_fail == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << n_fail << " of " << n_checked << " gradient elements differ:" << failures.str();
}

}  // namespace afinar::testing
