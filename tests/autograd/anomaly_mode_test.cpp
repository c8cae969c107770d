// Anomaly mode (autograd/anomaly_mode.h): off, a non-finite gradient flows silently into the
// leaves as in PyTorch; on, backward stops at the first function that returns one, naming it and
// the output, and the mode is per scope.
#include "afinar/autograd/anomaly_mode.h"

#include <gtest/gtest.h>

#include <limits>

#include "afinar/ops/elementwise.h"
#include "afinar/ops/reduce.h"

namespace afinar {
namespace {

// loss = sum(x ⊙ w) with w = [1, inf, 2]: SumBackward returns ones (finite), MulBackward returns
// d/dx = w, whose second element is inf; d/dw = x stays finite.
struct InfProduct {
  Tensor x = from_vector<float>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor w = from_vector<float>({1, std::numeric_limits<float>::infinity(), 2}, {3})
                 .set_requires_grad(true);
  Tensor loss() const { return sum(mul(x, w)); }
};

TEST(AnomalyMode, OffByDefaultAndTheGradientFlowsAsInPyTorch) {
  EXPECT_FALSE(AnomalyMode::is_enabled());
  InfProduct f;
  f.loss().backward();
  EXPECT_EQ(first_non_finite(f.x.grad()), "inf");
  EXPECT_EQ(first_non_finite(f.w.grad()), "");
}

TEST(AnomalyMode, NamesTheFunctionAndOutputThatReturnedTheFirstNonFiniteGradient) {
  InfProduct f;
  const Tensor loss = f.loss();
  {
    DetectAnomalyGuard anomaly;
    EXPECT_TRUE(AnomalyMode::is_enabled());
    try {
      loss.backward();
      FAIL() << "an infinite gradient must stop backward";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(
                    "anomaly detected: MulBackward returned inf values in its 0th output", 0),
                0u)
          << e.what();
    }
  }
  EXPECT_FALSE(AnomalyMode::is_enabled());  // the guard restores the mode
}

TEST(AnomalyMode, FirstNonFiniteTellsNanFromInfAndIgnoresIntegers) {
  EXPECT_EQ(first_non_finite(from_vector<double>({1, 2}, {2})), "");
  EXPECT_EQ(first_non_finite(from_vector<double>({1, std::nan(""), -INFINITY}, {3})), "nan");
  EXPECT_EQ(first_non_finite(from_vector<float>({-INFINITY, std::nanf("")}, {2})), "inf");
  EXPECT_EQ(first_non_finite(from_vector<int64_t>({1, 2}, {2})), "");
  EXPECT_EQ(first_non_finite(Tensor()), "");
}

}  // namespace
}  // namespace afinar
