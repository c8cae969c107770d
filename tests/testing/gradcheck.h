// Gradient checks by central differences in float64 (Caffe's GradientChecker, adapted).
//
// For inputs x_0..x_k (f64, requires_grad) and a function f producing a tensor y, the check
// projects y onto a fixed random direction u (L = sum(u ⊙ y), so every output element is
// exercised by one backward pass) and compares, for every element x_ij,
//   analytic  dL/dx_ij (from backward)
//   numeric   (L(x_ij + h) - L(x_ij - h)) / 2h
// with |analytic - numeric| <= threshold · max(|analytic|, |numeric|, 1).
// With h = 1e-6 in f64 the truncation error is O(h²) ≈ 1e-12 and the rounding error about
// eps·|L|/h ≈ 1e-10·|L|, so threshold 1e-6 leaves a wide margin and still catches any real error.
//
// Functions with kinks (relu at 0, max at ties) are checked away from them: `skip(i, j)` may
// exclude elements within h of a kink (Caffe's kink window); tests usually avoid kinks by
// construction instead.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "afinar/core/tensor.h"

namespace afinar::testing {

struct GradcheckOptions {
  double step = 1e-6;
  double threshold = 1e-6;
  uint64_t seed = 1234;  // for the projection direction u
  // Return true to skip element j of input i (e.g. near a kink).
  std::function<bool(size_t input, int64_t element)> skip;
};

// Checks the gradient of f with respect to every input that requires grad.
::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options = {});

// A fresh f64 leaf tensor of the given shape, uniform on [low, high), requiring grad.
Tensor leaf_f64(const Shape& shape, Generator& gen, double low = -1.0, double high = 1.0);
// An f64 leaf whose values are distinct and at least 1/numel apart (a permutation of
// 0, 1/n, ..., (n-1)/n shifted to [-0.5, 0.5)), so max-like ops have no ties: no central
// difference of step 1e-6 crosses a kink.
Tensor distinct_leaf_f64(const Shape& shape);

}  // namespace afinar::testing

#define EXPECT_GRADCHECK(...) EXPECT_TRUE(::afinar::testing::gradcheck(__VA_ARGS__))
