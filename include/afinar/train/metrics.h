// Classification metrics from a confusion matrix, as torchmetrics' Multiclass* metrics with
// average="macro" (what seed 000 logs) and sklearn's confusion_matrix (rows: true class,
// columns: predicted class).
//
//   per class c:  tp = M[c][c],  fp = Σ_r M[r][c] - tp,  fn = Σ_k M[c][k] - tp
//                 precision = tp / (tp + fp),  recall = tp / (tp + fn),
//                 F1 = 2tp / (2tp + fp + fn)              (0 where a denominator is 0)
//   macro average: the mean over the classes that occur at all (tp + fp + fn > 0) — a class
//   absent from both targets and predictions is left out, as torchmetrics does.
#pragma once

#include <cstdint>
#include <vector>

namespace afinar::train {

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;    // targets of the class (its row sum)
  int64_t predicted = 0;  // predictions of the class (its column sum)
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes);

  // Counts each (target, prediction) pair; a target outside [0, C) (an ignore_index) is skipped,
  // a prediction outside it is an error.
  void add(const std::vector<int64_t>& targets, const std::vector<int64_t>& predictions);
  void reset();

  int64_t num_classes() const { return C_; }
  int64_t at(int64_t target, int64_t predicted) const;
  int64_t total() const;
  double accuracy() const;  // trace / total (0 when empty)
  std::vector<ClassScores> per_class() const;
  double macro_precision() const;
  double macro_recall() const;
  double macro_f1() const;

 private:
  double macro(double ClassScores::*field) const;
  int64_t C_;
  std::vector<int64_t> counts_;  // C x C, row-major
};

}  // namespace afinar::train
