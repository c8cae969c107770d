// The HTML report of a training run (`afinar report RUN_DIR`): one self-contained file (inline
// SVG and CSS, images as data URIs; no script, no network) built from what `afinar train` leaves
// in its output directory (train/run_log.h):
//
//   metrics.csv, events.jsonl   loss / accuracy / lr curves per split, per-epoch timing and
//                               throughput, trainable / frozen counts of each stage
//   confusion_<split>.csv       the confusion matrix as a heatmap and per-class precision /
//                               recall / F1 / support (test if present, else val, else train)
//   recipe.toml                 shown verbatim, and read for the hyper-parameters and the data
//   best.h5                     class names and preprocessing; the model that labels a grid of
//                               sample images of the matrix's split (the same seeded split as
//                               the run: data::open_splits with the recipe's fractions and seed)
//
//   write_report("runs/flowers");                        // runs/flowers/report.html
//   write_report("runs/flowers", {.output = "r.html", .samples = 8});
//
// A missing file is an error naming every missing one, before anything is written. A data
// folder that is gone (or no longer matches the run's classes) is not: the report says so in
// place of the sample grid.
#pragma once

#include <cstdint>
#include <string>

namespace afinar::train {

struct ReportOptions {
  std::string output{};        // "" -> RUN_DIR/report.html
  int64_t samples = 16;        // images in the prediction grid (0: no grid)
  int64_t thumbnail = 96;      // their displayed size in pixels
  std::string device = "cpu";  // where the model labels them
};

// The files a run directory must hold for a report, relative to it; throws afinar::Error naming
// the missing ones ("runs/x: missing metrics.csv, best.h5 ...").
void check_run_dir(const std::string& run_dir);

// The body of one run's report (sections, no <html> wrapper), for pages that show several runs.
std::string run_report_section(const std::string& run_dir, const ReportOptions& options = {});
// A complete page around `body`: the report's stylesheet, UTF-8, no external resource.
std::string html_page(const std::string& title, const std::string& body);

// html_page(title, body) written to `path` under a temporary name and renamed into place.
void write_page(const std::string& path, const std::string& title, const std::string& body);

// check_run_dir, then the page written atomically to options.output; returns the path written.
std::string write_report(const std::string& run_dir, const ReportOptions& options = {});

}  // namespace afinar::train
