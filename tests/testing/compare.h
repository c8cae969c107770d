// Comparing tensors in tests: |a - b| <= atol + rtol·|ref| elementwise, with a failure message
// that names the worst element. Tolerances come from the dtype and the reduction length:
//   rtol = eps(dtype)·sqrt(reduction length)·safety, eps(f32) = 1.19e-7, eps(f64) = 2.2e-16.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
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
  const double eps = dtype == DType::F64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
  const double r = eps * std::sqrt(double(std::max<int64_t>(reduction_length, 1))) * safety;
  return {r, r};
}

// gtest assertion: every element of `actual` is within tol of `expected` (same shape).
::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, Tolerance tol);

}  // namespace afinar::testing

#define EXPECT_ALLCLOSE(actual, expected, tol) \
  EXPECT_TRUE(::afinar::testing::allclose((actual), (expected), (tol)))
#define ASSERT_ALLCLOSE(actual, expected, tol) \
  ASSERT_TRUE(::afinar::testing::allclose((actual), (expected), (tol)))
