#include "afinar/train/run_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "afinar/core/check.h"
#include "afinar/io/json.h"

namespace afinar::train {

using io::json_number;
using io::json_string;

namespace {

std::FILE* open_for_append(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  AFN_CHECK(f != nullptr, "cannot write ", path, ": ", std::strerror(errno));
  return f;
}

}  // namespace

RunLog::RunLog(const std::string& output_dir)
    : dir_((std::filesystem::create_directories(output_dir), output_dir)), tb_(output_dir) {
  const std::string csv_path = dir_ + "/metrics.csv";
  const bool fresh = !std::filesystem::exists(csv_path);  // a resumed run appends
  csv_ = open_for_append(csv_path);
  if (fresh)
    std::fprintf(csv_,
                 "epoch,split,loss,acc,top5,precision_macro,recall_macro,f1_macro,lr,seconds\n");
  jsonl_ = open_for_append(dir_ + "/events.jsonl");
}

RunLog::~RunLog() {
  if (csv_) std::fclose(csv_);
  if (jsonl_) std::fclose(jsonl_);
}

void RunLog::event(const std::string& name, const std::string& json_fields) {
  std::fprintf(jsonl_, "{\"event\": %s%s%s}\n", json_string(name).c_str(),
               json_fields.empty() ? "" : ", ", json_fields.c_str());
  std::fflush(jsonl_);
}

void RunLog::epoch(int64_t epoch, const std::string& split, const EpochStats& s, double lr) {
  const ConfusionMatrix& m = s.confusion;
  std::fprintf(csv_, "%ld,%s,%.6f,%.6f,%s,%.6f,%.6f,%.6f,%.6g,%.2f\n", long(epoch), split.c_str(),
               s.loss, s.accuracy, std::isnan(s.top5) ? "" : json_number(s.top5).c_str(),
               m.macro_precision(), m.macro_recall(), m.macro_f1(), lr, s.seconds);
  std::fflush(csv_);
  event("epoch",
        "\"epoch\": " + std::to_string(epoch) + ", \"split\": " + json_string(split) +
            ", \"loss\": " + json_number(s.loss) + ", \"acc\": " + json_number(s.accuracy) +
            ", \"top5\": " + json_number(s.top5) +
            ", \"precision_macro\": " + json_number(m.macro_precision()) + ", \"recall_macro\": " +
            json_number(m.macro_recall()) + ", \"f1_macro\": " + json_number(m.macro_f1()) +
            ", \"lr\": " + json_number(lr) + ", \"samples\": " + std::to_string(s.samples) +
            ", \"seconds\": " + json_number(s.seconds));
  tb_.add_scalar("Loss/" + split, s.loss, epoch);
  tb_.add_scalar("Acc/" + split, s.accuracy, epoch);
  if (split == "train") tb_.add_scalar("LR", lr, epoch);
  if (split == "val") {
    tb_.add_scalar("Val/Precision_macro", m.macro_precision(), epoch);
    tb_.add_scalar("Val/Recall_macro", m.macro_recall(), epoch);
    tb_.add_scalar("Val/F1_macro", m.macro_f1(), epoch);
  }
  tb_.flush();
}

void RunLog::confusion(const std::string& split, const ConfusionMatrix& m,
                       const std::vector<std::string>& class_names) {
  const std::string path = dir_ + "/confusion_" + split + ".csv";
  std::FILE* f = std::fopen(path.c_str(), "w");
  AFN_CHECK(f != nullptr, "cannot write ", path, ": ", std::strerror(errno));
  std::fprintf(f, "true\\predicted");
  for (const std::string& c : class_names) std::fprintf(f, ",%s", c.c_str());
  std::fprintf(f, "\n");
  for (int64_t t = 0; t < m.num_classes(); ++t) {
    std::fprintf(f, "%s", class_names[size_t(t)].c_str());
    for (int64_t p = 0; p < m.num_classes(); ++p) std::fprintf(f, ",%ld", long(m.at(t, p)));
    std::fprintf(f, "\n");
  }
  std::fclose(f);
}

}  // namespace afinar::train
