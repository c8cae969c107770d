// Anomaly detection for backward, like torch.autograd.detect_anomaly(): while enabled, every
// gradient a backward function returns is checked for NaN and infinity, and the first non-finite
// one stops backward with an error naming the function ("ReluBackward returned nan values in its
// 0th output"), so a diverging run points at the op that produced the first bad value rather
// than at the loss that shows it steps later. Each check reads the gradient back to the host:
// a debugging aid (`afinar train --detect-anomaly`), slow on the GPU. Per thread.
//
//   DetectAnomalyGuard anomaly;   // for this scope
//   loss.backward();              // throws afinar::Error at the first non-finite gradient
#pragma once

#include <string>

#include "afinar/core/tensor.h"

namespace afinar {

class AnomalyMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : prev_(AnomalyMode::is_enabled()) { AnomalyMode::set_enabled(true); }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
};

// "nan" or "inf" for the first non-finite element of a floating-point tensor (any device), ""
// when every element is finite (and for integer tensors).
std::string first_non_finite(const Tensor& t);

}  // namespace afinar
