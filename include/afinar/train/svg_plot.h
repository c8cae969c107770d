// Line charts as inline SVG for the run report (train/report.h): hand-written, self-contained
// markup (axes, grid, tick labels, axis titles, a legend), no script and no external reference.
//
//   std::string svg = line_chart({{"train", {1, 2, 3}, {0.9, 0.5, 0.4}, "#1f77b4"},
//                                 {"val", {1, 2, 3}, {1.0, 0.7, 0.6}, "#ff7f0e"}},
//                                {.title = "Loss", .x_label = "epoch", .integer_x = true});
//
// Points with a non-finite y are left out and break the line there. A series with `line` false
// is drawn as markers only (a test figure measured once).
#pragma once

#include <string>
#include <vector>

namespace afinar::train {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::string color;  // any CSS colour
  bool line = true;
};

struct ChartOptions {
  std::string title{}, x_label{}, y_label{};
  int width = 400, height = 260;  // pixels
  bool integer_x = false;         // x ticks on whole numbers only (epochs)
};

// Tick values spanning [lo, hi]: about `max_ticks` multiples of a step from {1, 2, 2.5, 5} x 10^k,
// starting at or below lo and ending at or above hi (Heckbert's "nice numbers"). With `integers`
// the step is at least 1. An empty or single-valued range is widened around its value first.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6, bool integers = false);

// One <svg> element with every series in one plot.
std::string line_chart(const std::vector<Series>& series, const ChartOptions& options);

}  // namespace afinar::train
