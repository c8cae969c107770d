// Comparing tensors in tests: |a - b| <= atol + rtol·|ref| elementwise, with a failure message
// that names the worst element. Tolerances come from the dtype and the reduction length:
//   rtol = eps(dtype)·sqrt(reduction length)·safety, eps(f32) = 1.19e-7, eps(f64) = 2.2e-16,
//   eps(bf16) = 2^-7 (8 significant bits).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "afinar/core/tensor.h"

namespace afinar::testing {

struct Tolerance {
  double rtol;
  double atol;
};

// Tolerance for a value computed in `dtype` as a sum of `reduction_length` terms. The sqrt models
// the random-walk growth of rounding error in a long sum; `safety` (default 8) covers the constant
// factors (different summation orders between the reference and the implementation under test).
inline Tolerance tolerance_for(DType dtype, int64_t reduction_length = 1, double safety = 8.0) {
  const double eps = dtype == DType::F64    ? 2.220446049250313e-16
                     : dtype == DType::BF16 ? 0.0078125
                     : dtype == DType::F16  ? 0.00048828125  // 2^-11
                                            : 1.1920928955078125e-07;
  const double r = eps * std::sqrt(double(std::max<int64_t>(reduction_length, 1))) * safety;
  return {r, r};
}

// gtest assertion: every element of `actual` is within tol of `expected` (same shape).
::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, Tolerance tol);

// Same dtype, shape and bytes (NaN payloads and -0.0 included): for data that must round-trip
// exactly (file formats, copies).
inline void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const Tensor a = got.contiguous(), b = want.contiguous();
  if (a.nbytes() > 0) {
    EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << what;
  }
}

// max |got - want| / max |want| over whole tensors (same shape): the error relative to the
// reference's scale, for outputs whose small elements carry no meaning alone (logits, weights
// after training). 0 or infinity when `want` is all zeros.
inline double max_relative_error(const Tensor& got, const Tensor& want) {
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    diff = std::max(diff, std::abs(g[i] - w[i]));
    scale = std::max(scale, std::abs(w[i]));
  }
  if (scale == 0) return diff == 0 ? 0 : std::numeric_limits<double>::infinity();
  return diff / scale;
}

}  // namespace afinar::testing

#define EXPECT_ALLCLOSE(actual, expected, tol) \
  EXPECT_TRUE(::afinar::testing::allclose((actual), (expected), (tol)))
#define ASSERT_ALLCLOSE(actual, expected, tol) \
  ASSERT_TRUE(::afinar::testing::allclose((actual), (expected), (tol)))
