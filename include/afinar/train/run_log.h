// What a training run leaves in its output directory besides the weights:
//   metrics.csv      one row per epoch and split:
//                    epoch,split,loss,acc,top5,precision_macro,recall_macro,f1_macro,lr,seconds
//   events.jsonl     one JSON object per line: run start, each epoch/split, run end
//   events.out.tfevents.*   TensorBoard scalars as seed 000 writes them: Loss/<split>,
//                    Acc/<split>, LR, Val/Precision_macro, Val/Recall_macro, Val/F1_macro
//   confusion_<split>.csv   the last confusion matrix of the split (rows: true class)
// (and recipe.toml, the resolved recipe, written by the trainer)
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "afinar/train/epoch.h"
#include "afinar/train/tensorboard.h"

namespace afinar::train {

class RunLog {
 public:
  explicit RunLog(const std::string& output_dir);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // A free-form event: {"event": name, <json_fields>} (json_fields: `"k": v, ...` or empty).
  void event(const std::string& name, const std::string& json_fields);
  // An epoch's figures for one split ("train", "val", "test").
  void epoch(int64_t epoch, const std::string& split, const EpochStats& s, double lr);
  void confusion(const std::string& split, const ConfusionMatrix& m,
                 const std::vector<std::string>& class_names);

 private:
  std::string dir_;
  std::FILE* csv_ = nullptr;
  std::FILE* jsonl_ = nullptr;
  TensorBoardWriter tb_;
};

}  // namespace afinar::train
