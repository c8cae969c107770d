// The trainer's progress display: durations, rates and ETA worked out by hand, both line formats
// character for character, and what the printer writes in each mode ('\r' redraws, padding,
// the closing newline, repeated reports).
#include "afinar/train/progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "afinar/core/check.h"

namespace afinar::train {
namespace {

// 120 of 240 steps (32 images each) in 9.6 s: 12.5 it/s, 400 img/s, 120 steps left at 0.08 s.
Progress halfway() {
  return {.step = 120,
          .steps = 240,
          .samples = 3840,
          .loss = 0.4321,
          .accuracy = 0.8765,
          .seconds = 9.6};
}

TEST(Progress, DurationsTruncateToWholeSeconds) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(9.99), "0:09");
  EXPECT_EQ(format_duration(61), "1:01");
  EXPECT_EQ(format_duration(3599.5), "59:59");
  EXPECT_EQ(format_duration(3600), "1:00:00");
  EXPECT_EQ(format_duration(3725), "1:02:05");    // 1 h 2 min 5 s
  EXPECT_EQ(format_duration(90061), "25:01:01");  // hours are not folded into days
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::nan("")), "?");
  EXPECT_EQ(format_duration(INFINITY), "?");
}

TEST(Progress, EtaIsTheRemainingStepsAtThePaceSoFar) {
  EXPECT_DOUBLE_EQ(eta_seconds(halfway()), 9.6);  // 120 left × 9.6 s / 120 done
  Progress p{.step = 60, .steps = 240, .seconds = 15};
  EXPECT_DOUBLE_EQ(eta_seconds(p), 45.0);  // 180 × 0.25 s
  p.step = 0;
  EXPECT_TRUE(std::isnan(eta_seconds(p)));  // no pace yet
  p.step = 240;
  EXPECT_EQ(eta_seconds(p), 0.0);
}

TEST(Progress, RateTurnsToSecondsPerStepBelowOne) {
  EXPECT_EQ(format_rate(halfway()), "12.5 it/s");
  EXPECT_EQ(format_rate({.step = 2, .steps = 10, .seconds = 5}), "2.5 s/it");  // 0.4 it/s
  EXPECT_EQ(format_rate({.step = 3, .steps = 10, .seconds = 3}), "1.0 it/s");
  EXPECT_EQ(format_rate({.step = 0, .steps = 10, .seconds = 0}), "? it/s");
}

TEST(Progress, BarLine) {
  EXPECT_EQ(progress_bar_line(halfway(), 2, 10, "train", 10),
            "epoch 3/10 train [#####.....] 120/240 50% loss 0.4321 acc 0.8765 12.5 it/s "
            "ETA 0:09");
  // 239/240 = 99.58%: floored, so the bar and the percentage show complete only at the end.
  Progress p = halfway();
  p.step = 239;
  EXPECT_NE(progress_bar_line(p, 2, 10, "val", 10).find("[#########.] 239/240 99% "),
            std::string::npos);
  p.step = 240;
  EXPECT_NE(progress_bar_line(p, 2, 10, "val", 4).find("[####] 240/240 100% "), std::string::npos);
  p.step = 0;
  p.seconds = 0;
  EXPECT_EQ(progress_bar_line(p, 0, 1, "val", 3),
            "epoch 1/1 val [...] 0/240 0% loss 0.4321 acc 0.8765 ? it/s ETA ?");
}

TEST(Progress, PlainLineKeepsTheLogFormatAndAddsRateAndEta) {
  // The trainer's former line (split padded to 7 for val_ema, steps to 5 and 5, img/s and seconds)
  // + it/s, ETA.
  EXPECT_EQ(progress_plain_line(halfway(), 2, 10, "train"),
            "epoch 3/10 train     120/240   loss 0.4321 acc 0.8765   400.0 img/s    9.6 s "
            "12.5 it/s ETA 0:09");
  EXPECT_EQ(progress_plain_line(halfway(), 2, 10, "val"),
            "epoch 3/10 val       120/240   loss 0.4321 acc 0.8765   400.0 img/s    9.6 s "
            "12.5 it/s ETA 0:09");
}

TEST(Progress, PlainModeWritesOneLinePerReportAndSkipsARepeat) {
  std::ostringstream out;
  const Progress a{.step = 20, .steps = 50, .samples = 640, .seconds = 2};
  const Progress b{.step = 50, .steps = 50, .samples = 1600, .seconds = 5};
  {
    ProgressFn fn = progress_printer(out, 0, 3, "train");  // Auto: a string stream is no terminal
    fn(a);
    fn(b);
    fn(b);  // the epoch's end repeating its last log step
  }
  EXPECT_EQ(out.str(), detail::concat(progress_plain_line(a, 0, 3, "train"), "\n",
                                      progress_plain_line(b, 0, 3, "train"), "\n"));
}

TEST(Progress, BarModeRedrawsOneLineAndEndsItWithTheEpoch) {
  std::ostringstream out;
  const Progress a{.step = 1, .steps = 3, .samples = 8, .loss = 10.25, .seconds = 1};
  const Progress b{.step = 2, .steps = 3, .samples = 16, .loss = 1.25, .seconds = 2};
  const Progress c{.step = 3, .steps = 3, .samples = 24, .loss = 1.5, .seconds = 3};
  const std::string la = progress_bar_line(a, 0, 1, "train", 10),
                    lb = progress_bar_line(b, 0, 1, "train", 10),
                    lc = progress_bar_line(c, 0, 1, "train", 10);
  ASSERT_EQ(la.size(), lb.size() + 1);  // loss 10.2500 vs 1.2500: b must blank a's last column
  ASSERT_EQ(lc.size(), lb.size() + 1);  // 100% vs 66%: c covers b, nothing to blank
  ProgressFn fn = progress_printer(out, 0, 1, "train", {.mode = ProgressMode::Bar});
  fn(a);
  fn(b);
  fn(c);
  fn(c);
  EXPECT_EQ(out.str(), detail::concat("\r", la, "\r", lb, " \r", lc, "\n"));
}

TEST(Progress, BarLineOfAnEpochStoppedEarlyEndsWithThePrinter) {
  std::ostringstream out;
  const Progress a{.step = 1, .steps = 3, .samples = 8, .seconds = 1};
  {
    ProgressFn fn = progress_printer(out, 0, 1, "train", {.mode = ProgressMode::Bar});
    ProgressFn copy = fn;  // copies share the line
    fn(a);
    fn = nullptr;
    EXPECT_EQ(out.str(), detail::concat("\r", progress_bar_line(a, 0, 1, "train", 10)));  // open
  }
  EXPECT_EQ(out.str(), detail::concat("\r", progress_bar_line(a, 0, 1, "train", 10), "\n"));
}

TEST(Progress, OnlyTheStandardStreamsCanBeTerminals) {
  std::ostringstream out;
  EXPECT_FALSE(is_terminal(out));
}

}  // namespace
}  // namespace afinar::train
