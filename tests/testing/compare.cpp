#include "testing/compare.h"

#include <sstream>

namespace afinar::testing {

::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, Tolerance tol) {
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << "an operand is undefined";
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure()
           << "shape " << shape_str(actual.shape()) << " differs from expected "
           << shape_str(expected.shape());
  const auto a = actual.to_vector<double>();
  const auto e = expected.to_vector<double>();
  int64_t bad = 0, worst = -1;
  double worst_excess = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(a[i] - e[i]);
    const double allowed = tol.atol + tol.rtol * std::abs(e[i]);
    if (!(diff <= allowed)) {  // also catches NaN
      ++bad;
      const double excess = std::isnan(diff) ? INFINITY : diff / allowed;
      if (worst < 0 || excess > worst_excess) {
        worst = int64_t(i);
        worst_excess = excess;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(10);
  os << bad << " of " << a.size() << " elements differ (rtol " << tol.rtol << ", atol " << tol.atol
     << "); worst at flat index " << worst << ": actual " << a[size_t(worst)] << ", expected "
     << e[size_t(worst)] << ", |diff| " << std::abs(a[size_t(worst)] - e[size_t(worst)]);
  return ::testing::AssertionFailure() << os.str();
}

}  // namespace afinar::testing
