// The demo's page (train/demo.h write_demo_report): the strategies side by side — their table,
// validation accuracy and training loss per epoch in one chart each — then every run's own
// report (train/report.h) folded in a <details> element, the pre-training run first.
#include <cmath>
#include <cstdio>
#include <map>

#include "afinar/train/demo.h"
#include "afinar/train/html.h"
#include "afinar/train/report.h"
#include "afinar/train/run_files.h"
#include "afinar/train/svg_plot.h"

namespace afinar::train {

namespace {

// Matplotlib's tab10, one colour per strategy.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};

std::string number(double v, const char* format) {
  if (!std::isfinite(v)) return "&ndash;";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string results_table(const DemoResult& r) {
  std::string out =
      "<table class=\"facts\"><tr><th>strategy</th><th>what trains</th><th>epochs</th>"
      "<th>best val accuracy</th><th>test accuracy</th><th>time</th><th>trainable "
      "parameters</th></tr>\n";
  double best_test = -1;
  for (const StrategyResult& s : r.strategies) best_test = std::max(best_test, s.test_accuracy);
  for (const StrategyResult& s : r.strategies) {
    const bool best = s.test_accuracy == best_test;
    out += "<tr><td>" + html_escape(s.name) + "</td><td>" + html_escape(s.description) +
           "</td><td>" + std::to_string(s.epochs) + "</td><td>" +
           number(s.best_val_accuracy, "%.4f") + "</td><td>" + (best ? "<b>" : "") +
           number(s.test_accuracy, "%.4f") + (best ? "</b>" : "") + "</td><td>" +
           number(s.seconds, "%.1f s") + "</td><td>" + trainable_text(s.trainable, " &rarr; ") +
           "</td></tr>\n";
  }
  return out + "</table>\n";
}

// One line per strategy of a metric of `split` over the epochs (1-based).
std::string comparison_chart(const DemoResult& r, const std::string& split,
                             double MetricRow::*value, const std::string& title) {
  std::vector<Series> series;
  for (size_t i = 0; i < r.strategies.size(); ++i) {
    const StrategyResult& s = r.strategies[i];
    std::map<int64_t, double> points;
    for (const MetricRow& m : read_metrics(s.run_dir + "/metrics.csv"))
      if (m.split == split) points[m.epoch + 1] = m.*value;
    Series line{s.name, {}, {}, kColors[i % std::size(kColors)]};
    for (const auto& [x, y] : points) {
      line.x.push_back(double(x));
      line.y.push_back(y);
    }
    series.push_back(std::move(line));
  }
  return line_chart(series, {.title = title,
                             .x_label = "epoch",
                             .y_label = title,
                             .width = 480,
                             .height = 300,
                             .integer_x = true});
}

std::string folded_run(const StrategyResult& s, const std::string& device) {
  return "<details><summary>" + html_escape(s.name) + " &mdash; " + html_escape(s.description) +
         "</summary>\n" + run_report_section(s.run_dir, {.samples = 16, .device = device}) +
         "</details>\n";
}

}  // namespace

std::string write_demo_report(const DemoResult& r, const std::string& device) {
  std::string body =
      "<p>A ResNet18 pre-trained on Fashion-MNIST classes 0&ndash;4 (T-shirt/top, Trouser, "
      "Pullover, Dress, Coat: the demo's ImageNet) is transferred to classes 5&ndash;9 (Sandal, "
      "Shirt, Sneaker, Bag, Ankle boot) with few training images, four ways, each with the same "
      "budget of epochs. Test accuracy is that of each run's best epoch by validation accuracy, "
      "on images from Fashion-MNIST's separate test file.</p>\n";
  body += "<section id=\"strategies\"><h2>Strategies</h2>\n" + results_table(r);
  body += "<p class=\"note\">Pre-training: " +
          (r.source.reused ? std::string("reused from an earlier demo")
                           : number(r.source.seconds, "%.1f s")) +
          ", best validation accuracy " + number(r.source.best_val_accuracy, "%.4f") +
          " on classes 0&ndash;4. Whole demo: " + number(r.seconds, "%.1f s") + " on " +
          html_escape(r.device) + ".</p>\n";
  body += "<div class=\"charts\">\n" +
          comparison_chart(r, "val", &MetricRow::acc, "Validation accuracy") + "\n" +
          comparison_chart(r, "train", &MetricRow::loss, "Training loss") + "\n</div></section>\n";
  body += "<section id=\"runs\"><h2>Runs</h2>\n" + folded_run(r.source, device);
  for (const StrategyResult& s : r.strategies) body += folded_run(s, device);
  body += "</section>\n";

  const std::string path = r.output + "/report.html";
  write_page(path, "afinar demo: transfer learning on Fashion-MNIST", body);
  return path;
}

}  // namespace afinar::train
