// The validation figure a run is judged by (timm's --eval-metric): it picks the best epoch
// (best.h5), counts the epochs without improvement for early stopping, and is what
// ReduceLROnPlateau watches (mode "min" for the loss, "max" for the others).
//
//   top1      accuracy                     higher is better (the default)
//   top5      top-5 accuracy               higher is better; needs more than 5 classes
//   loss      mean cross-entropy           lower is better
//   f1_macro  macro F1 (train/metrics.h)   higher is better; for classes of unequal size
#pragma once

#include <string>

#include "afinar/train/epoch.h"

namespace afinar::train {

class EvalMetric {
 public:
  // An unknown name is an error listing the known ones.
  explicit EvalMetric(const std::string& name = "top1");
  static bool is_known(const std::string& name);

  const std::string& name() const { return name_; }
  bool lower_is_better() const { return name_ == "loss"; }
  // The metric of an epoch's figures.
  double of(const EpochStats& stats) const;
  // Whether `value` beats `best` strictly (a tie keeps the earlier epoch, as a strict `>` on
  // the accuracy does); anything beats a NaN best (none yet).
  bool improves(double value, double best) const;

 private:
  std::string name_;
};

}  // namespace afinar::train
