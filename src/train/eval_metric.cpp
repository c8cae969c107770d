#include "afinar/train/eval_metric.h"

#include <algorithm>
#include <cmath>

#include "afinar/core/check.h"

namespace afinar::train {

const std::vector<std::string>& EvalMetric::names() {
  static const std::vector<std::string> kNames = {"top1", "top5", "loss", "f1_macro"};
  return kNames;
}

EvalMetric::EvalMetric(const std::string& name) : name_(name) {
  AFN_CHECK(std::find(names().begin(), names().end(), name) != names().end(),
            "unknown eval_metric '", name, "' (--eval-metric): expected top1, top5, loss or ",
            "f1_macro");
}

double EvalMetric::of(const EpochStats& s) const {
  if (name_ == "top5") return s.top5;
  if (name_ == "loss") return s.loss;
  if (name_ == "f1_macro") return s.confusion.macro_f1();
  return s.accuracy;
}

bool EvalMetric::improves(double value, double best) const {
  if (std::isnan(best)) return true;
  return lower_is_better() ? value < best : value > best;
}

}  // namespace afinar::train
