#include "afinar/train/eval_metric.h"

#include <cmath>

#include "afinar/core/check.h"

namespace afinar::train {

bool EvalMetric::is_known(const std::string& name) {
  return name == "top1" || name == "top5" || name == "loss" || name == "f1_macro";
}

EvalMetric::EvalMetric(const std::string& name) : name_(name) {
  AFN_CHECK(is_known(name), "unknown eval_metric '", name,
            "' (--eval-metric): expected top1, top5, loss or f1_macro");
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
