// Reading back what a training run wrote (train/run_log.h): metrics.csv rows, events.jsonl
// objects and confusion_<split>.csv matrices, for the report (train/report.h) and for anything
// else that compares runs.
//
//   for (const MetricRow& r : read_metrics("runs/x/metrics.csv")) plot(r.epoch, r.loss);
//   for (const JsonFields& e : read_events("runs/x/events.jsonl").events)
//     if (e.at("event") == "stage") ...;
//   ConfusionMatrix m = read_confusion("runs/x/confusion_val.csv", 10);
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "afinar/train/metrics.h"

namespace afinar::train {

// One row of metrics.csv. Figures the row leaves empty (top5 with 5 classes or fewer) are NaN.
struct MetricRow {
  int64_t epoch = 0;  // counted from 0 across stages
  std::string split;  // "train", "val", "test"
  double loss = 0, acc = 0, top5 = 0, precision = 0, recall = 0, f1 = 0, lr = 0, seconds = 0;
};
// Columns are found by their header names, so added columns do not break the reader; a missing
// column or a malformed number is an error naming the file and line.
std::vector<MetricRow> read_metrics(const std::string& path);

// The members of one JSON object: string values unescaped, every other value (number, true,
// false, null, a nested array or object) as its raw text.
using JsonFields = std::map<std::string, std::string>;
// nullopt when `line` is not one well-formed JSON object.
std::optional<JsonFields> parse_json_object(std::string_view line);
// A member as a number; NaN when absent or not a number (null).
double json_field_number(const JsonFields& fields, const std::string& key);

struct EventLog {
  std::vector<JsonFields> events;  // in file order
  int64_t malformed_lines = 0;     // skipped (a run killed mid-write leaves a partial last line)
};
EventLog read_events(const std::string& path);

// A matrix written by RunLog::confusion: a header row of class names, then one row per true
// class, its name followed by `num_classes` counts. Names are not parsed (they may hold commas):
// the counts are the last `num_classes` fields of each row. Throws naming the file and line when
// the shape or a count is wrong.
ConfusionMatrix read_confusion(const std::string& path, int64_t num_classes);

}  // namespace afinar::train
