#include "afinar/train/metrics.h"

#include <numeric>

#include "afinar/core/check.h"

namespace afinar::train {

ConfusionMatrix::ConfusionMatrix(int64_t num_classes) : C_(num_classes) {
  AFN_CHECK(num_classes > 0, "ConfusionMatrix: num_classes must be > 0, got ", num_classes);
  counts_.assign(size_t(C_ * C_), 0);
}

void ConfusionMatrix::add(const std::vector<int64_t>& targets,
                          const std::vector<int64_t>& predictions) {
  AFN_CHECK(targets.size() == predictions.size(), "ConfusionMatrix: ", targets.size(),
            " targets but ", predictions.size(), " predictions");
  for (size_t i = 0; i < targets.size(); ++i) {
    const int64_t t = targets[i], p = predictions[i];
    if (t < 0 || t >= C_) continue;
    AFN_CHECK(p >= 0 && p < C_, "ConfusionMatrix: prediction ", p, " is not one of the ", C_,
              " classes");
    ++counts_[size_t(t * C_ + p)];
  }
}

void ConfusionMatrix::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
}

int64_t ConfusionMatrix::at(int64_t target, int64_t predicted) const {
  AFN_CHECK(target >= 0 && target < C_ && predicted >= 0 && predicted < C_, "ConfusionMatrix: (",
            target, ", ", predicted, ") is outside ", C_, "x", C_);
  return counts_[size_t(target * C_ + predicted)];
}

int64_t ConfusionMatrix::total() const {
  return std::accumulate(counts_.begin(), counts_.end(), int64_t(0));
}

double ConfusionMatrix::accuracy() const {
  int64_t trace = 0;
  for (int64_t c = 0; c < C_; ++c) trace += at(c, c);
  const int64_t n = total();
  return n == 0 ? 0.0 : double(trace) / double(n);
}

std::vector<ClassScores> ConfusionMatrix::per_class() const {
  std::vector<ClassScores> out(static_cast<size_t>(C_));
  auto ratio = [](int64_t num, int64_t den) { return den == 0 ? 0.0 : double(num) / double(den); };
  for (int64_t c = 0; c < C_; ++c) {
    int64_t row = 0, col = 0;
    for (int64_t k = 0; k < C_; ++k) {
      row += at(c, k);
      col += at(k, c);
    }
    const int64_t tp = at(c, c), fn = row - tp, fp = col - tp;
    out[size_t(c)] = {ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn), row,
                      col};
  }
  return out;
}

double ConfusionMatrix::macro(double ClassScores::*field) const {
  double sum = 0;
  int64_t present = 0;
  for (const ClassScores& s : per_class()) {
    if (s.support + s.predicted == 0) continue;  // tp + fp + fn == 0: the class never occurs
    sum += s.*field;
    ++present;
  }
  return present == 0 ? 0.0 : sum / double(present);
}

double ConfusionMatrix::macro_precision() const {
  return macro(&ClassScores::precision);
}
double ConfusionMatrix::macro_recall() const {
  return macro(&ClassScores::recall);
}
double ConfusionMatrix::macro_f1() const {
  return macro(&ClassScores::f1);
}

}  // namespace afinar::train
