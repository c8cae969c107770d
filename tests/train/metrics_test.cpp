// Confusion-matrix metrics against hand computations (sklearn's documented example for
// precision_score / recall_score / f1_score with average="macro").
#include "afinar/train/metrics.h"

#include <gtest/gtest.h>

#include "afinar/core/check.h"

namespace afinar::train {
namespace {

// y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]: class 0 has tp 2, fp 1, fn 0
// (P 2/3, R 1, F1 4/5); classes 1 and 2 have tp 0. Macro: P 2/9, R 1/3, F1 4/15.
TEST(Metrics, SklearnMacroExample) {
  ConfusionMatrix m(3);
  m.add({0, 1, 2, 0, 1, 2}, {0, 2, 1, 0, 0, 1});
  EXPECT_EQ(m.at(0, 0), 2);
  EXPECT_EQ(m.at(1, 0), 1);
  EXPECT_EQ(m.at(1, 2), 1);
  EXPECT_EQ(m.at(2, 1), 2);
  EXPECT_EQ(m.total(), 6);
  EXPECT_DOUBLE_EQ(m.accuracy(), 2.0 / 6);
  EXPECT_DOUBLE_EQ(m.macro_precision(), 2.0 / 9);
  EXPECT_DOUBLE_EQ(m.macro_recall(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.macro_f1(), 4.0 / 15);
  const auto pc = m.per_class();
  EXPECT_DOUBLE_EQ(pc[0].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(pc[0].recall, 1.0);
  EXPECT_DOUBLE_EQ(pc[0].f1, 0.8);
  EXPECT_EQ(pc[1].support, 2);
  EXPECT_EQ(pc[1].predicted, 2);
  EXPECT_EQ(pc[2].predicted, 1);
}

// A class that occurs in neither targets nor predictions does not dilute the macro average; one
// that is predicted but never a target counts, with precision 0.
TEST(Metrics, AbsentClassesAreLeftOutOfTheMacroAverage) {
  ConfusionMatrix with_absent(5);
  with_absent.add({0, 1, 2, 0, 1, 2}, {0, 2, 1, 0, 0, 1});
  EXPECT_DOUBLE_EQ(with_absent.macro_f1(), 4.0 / 15);
  ConfusionMatrix predicted_only(4);
  predicted_only.add({0, 0, 1}, {0, 3, 1});
  // class 0: P 1, R 1/2, F1 2/3; class 1: 1, 1, 1; class 3: P 0, R 0, F1 0.
  EXPECT_DOUBLE_EQ(predicted_only.macro_precision(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(predicted_only.macro_recall(), 0.5);
  EXPECT_DOUBLE_EQ(predicted_only.macro_f1(), (2.0 / 3 + 1.0) / 3);
}

TEST(Metrics, IgnoredTargetsAndBadInput) {
  ConfusionMatrix m(2);
  m.add({-100, 1}, {0, 1});
  EXPECT_EQ(m.total(), 1);
  EXPECT_THROW(m.add({0}, {2}), Error);
  EXPECT_THROW(m.add({0, 1}, {0}), Error);
  EXPECT_THROW(ConfusionMatrix(0), Error);
  m.reset();
  EXPECT_EQ(m.total(), 0);
  EXPECT_EQ(m.accuracy(), 0.0);
  EXPECT_EQ(m.macro_f1(), 0.0);
}

}  // namespace
}  // namespace afinar::train
