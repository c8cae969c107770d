// The run's log files: per-class precision / recall / F1 / support in per_class.csv and in the
// epoch events of events.jsonl against a confusion matrix worked out by hand, the existing
// metrics.csv kept as it was, appending on resume, and the hyper-parameters hparams_of lists.
// (What RunLog writes to the TensorBoard file is checked in tensorboard_test.cpp.)
#include "afinar/train/run_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <variant>

#include "afinar/core/check.h"
#include "afinar/train/run_files.h"
#include "afinar/train/trainer.h"
#include "testing/temp_dir.h"
#include "testing/text_file.h"

namespace afinar::train {
namespace {

using testing::read_text;

// targets [0,0,0,1,1,2], predictions [0,0,1,1,2,2]: rows (true) [2,1,0], [0,1,1], [0,0,1].
//   class 0: tp 2, fp 0, fn 1 -> P 1,   R 2/3, F1 4/5, support 3
//   class 1: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2, support 2
//   class 2: tp 1, fp 1, fn 0 -> P 1/2, R 1,   F1 2/3, support 1
EpochStats stats() {
  EpochStats s;
  s.confusion = ConfusionMatrix(3);
  s.confusion.add({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2});
  s.loss = 0.5;
  s.accuracy = 4.0 / 6;
  s.samples = 6;
  return s;
}
struct Expected {
  double precision, recall, f1;
  int64_t support;
};
const Expected kExpected[3] = {{1, 2.0 / 3, 0.8, 3}, {0.5, 0.5, 0.5, 2}, {0.5, 1, 2.0 / 3, 1}};

// The objects of a JSON array's text (run_files' parser gives a nested array as its raw text).
std::vector<JsonFields> objects_in(const std::string& array) {
  std::vector<JsonFields> out;
  size_t start = 0;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < array.size(); ++i) {
    const char c = array[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' && depth++ == 0) {
      start = i;
    } else if (c == '}' && --depth == 0) {
      auto o = parse_json_object(array.substr(start, i + 1 - start));
      EXPECT_TRUE(o.has_value()) << array;
      if (o) out.push_back(*o);
    }
  }
  return out;
}

TEST(RunLog, PerClassCsvHoldsTheHandComputedFigures) {
  testing::TempDir dir;
  {
    RunLog log(dir.path(), {"cat", "dog, \"big\"", "eel"});
    log.epoch(0, "train", stats(), 0.1);
    log.epoch(0, "val", stats(), 0.1);
  }
  // %.6f of the fractions above; the name with a comma and quotes is quoted as RFC 4180 says.
  const std::string expected =
      "epoch,split,class,precision,recall,f1,support\n"
      "0,train,cat,1.000000,0.666667,0.800000,3\n"
      "0,train,\"dog, \"\"big\"\"\",0.500000,0.500000,0.500000,2\n"
      "0,train,eel,0.500000,1.000000,0.666667,1\n"
      "0,val,cat,1.000000,0.666667,0.800000,3\n"
      "0,val,\"dog, \"\"big\"\"\",0.500000,0.500000,0.500000,2\n"
      "0,val,eel,0.500000,1.000000,0.666667,1\n";
  EXPECT_EQ(read_text(dir / "per_class.csv"), expected);
}

TEST(RunLog, EpochEventCarriesPerClassFigures) {
  testing::TempDir dir;
  {
    RunLog log(dir.path(), {"cat", "dog, \"big\"", "eel"});
    log.epoch(4, "val", stats(), 0.01);
  }
  const EventLog events = read_events(dir / "events.jsonl");
  ASSERT_EQ(events.events.size(), 1u);
  const JsonFields& e = events.events[0];
  EXPECT_EQ(e.at("event"), "epoch");
  EXPECT_EQ(e.at("split"), "val");
  EXPECT_EQ(json_field_number(e, "epoch"), 4);
  EXPECT_EQ(json_field_number(e, "samples"), 6);
  const std::vector<JsonFields> classes = objects_in(e.at("per_class"));
  ASSERT_EQ(classes.size(), 3u);
  const char* names[3] = {"cat", "dog, \"big\"", "eel"};
  for (size_t c = 0; c < 3; ++c) {
    SCOPED_TRACE(names[c]);
    EXPECT_EQ(classes[c].at("class"), names[c]);
    // Numbers are written with 9 significant digits (json_number): |error| < 1e-9 below 1.
    EXPECT_NEAR(json_field_number(classes[c], "precision"), kExpected[c].precision, 1e-9);
    EXPECT_NEAR(json_field_number(classes[c], "recall"), kExpected[c].recall, 1e-9);
    EXPECT_NEAR(json_field_number(classes[c], "f1"), kExpected[c].f1, 1e-9);
    EXPECT_EQ(classes[c].at("support"), std::to_string(kExpected[c].support));
  }
}

TEST(RunLog, MetricsCsvKeepsItsColumnsAndAResumedRunAppends) {
  testing::TempDir dir;
  for (int part = 0; part < 2; ++part) {  // the second RunLog is a resumed run's
    RunLog log(dir.path());
    log.epoch(part, "train", stats(), 0.1);
  }
  const std::string metrics = read_text(dir / "metrics.csv");
  EXPECT_EQ(metrics.substr(0, metrics.find('\n')),
            "epoch,split,loss,acc,top5,precision_macro,recall_macro,f1_macro,lr,seconds");
  const std::vector<MetricRow> rows = read_metrics(dir / "metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].epoch, 1);
  EXPECT_NEAR(rows[1].f1, (0.8 + 0.5 + 2.0 / 3) / 3, 1e-6);  // %.6f in the file
  // Without class names the class column holds the index; one header for both parts.
  const std::string per_class = read_text(dir / "per_class.csv");
  EXPECT_EQ(per_class.find("epoch,split"), 0u);
  EXPECT_EQ(per_class.find("epoch,split", 1), std::string::npos);
  EXPECT_NE(per_class.find("\n1,train,2,0.500000,1.000000,0.666667,1\n"), std::string::npos);
}

TEST(RunLog, ANewRunRemovesTheEarlierRunsFilesOnly) {
  testing::TempDir dir;
  {
    RunLog log(dir.path(), {"a", "b", "c"});
    log.epoch(0, "train", stats(), 0.1);
    log.confusion("val", stats().confusion, {"a", "b", "c"});
  }
  for (const char* name :
       {"best.h5", "last.h5", "checkpoint.h5", "checkpoint.prev.h5", "recipe.toml", "report.html"})
    std::ofstream(dir / name) << "x";
  for (const char* name : {"notes.txt", "best.h5.bak", "my_confusion.csv", "data.csv"})
    std::ofstream(dir / name) << "keep";
  std::filesystem::create_directory(dir / "events.jsonl.d");  // a folder is never removed

  EXPECT_EQ(remove_run_files(dir.path()), 11);  // 6 + metrics, per_class, events, TB, confusion
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"best.h5.bak", "data.csv", "events.jsonl.d",
                                            "my_confusion.csv", "notes.txt"}));
  EXPECT_EQ(remove_run_files(dir / "missing"), 0);
}

TEST(RunLog, ClassNamesMustMatchTheClasses) {
  testing::TempDir dir;
  RunLog log(dir.path(), {"cat", "dog"});
  EXPECT_THROW(log.epoch(0, "train", stats(), 0.1), Error);
}

const HParamValue& value(const HParams& h, const std::string& name) {
  for (const auto& [key, v] : h)
    if (key == name) return v;
  AFN_FAIL("no hyper-parameter ", name);
}

TEST(RunLog, HParamsOfATwoStageRun) {
  TrainConfig c;
  c.model = "resnet18";
  c.batch_size = 16;
  c.augment = false;
  StageConfig frozen;
  frozen.epochs = 5;
  frozen.freeze = {"*"};
  frozen.unfreeze = {"fc.*", "layer4.*"};
  frozen.optimizer = {"sgd", {{"lr", 0.01}, {"momentum", 0.9}}};
  frozen.scheduler.name = "step";
  frozen.scheduler.args = {{"step_size", 7}, {"gamma", 0.1}};
  StageConfig unfrozen;
  unfrozen.epochs = 3;
  unfrozen.unfreeze = {"*"};
  unfrozen.optimizer = {"adam", {{"lr", 1e-4}}};
  unfrozen.param_groups = {{{"fc.*"}, {{"lr", 1e-3}}}};
  c.stages = {frozen, unfrozen};
  const HParams h = hparams_of(c);

  EXPECT_EQ(std::get<std::string>(value(h, "model")), "resnet18");
  EXPECT_EQ(std::get<std::string>(value(h, "weights")), "none");
  EXPECT_EQ(std::get<double>(value(h, "epochs")), 8);
  EXPECT_EQ(std::get<double>(value(h, "stages")), 2);
  EXPECT_EQ(std::get<double>(value(h, "batch_size")), 16);
  EXPECT_EQ(std::get<bool>(value(h, "augment")), false);
  EXPECT_EQ(std::get<bool>(value(h, "amp")), false);
  EXPECT_EQ(std::get<bool>(value(h, "channels_last")), false);
  EXPECT_EQ(std::get<std::string>(value(h, "amp_dtype")), "bfloat16");
  EXPECT_EQ(std::get<std::string>(value(h, "optimizer")), "sgd");
  EXPECT_EQ(std::get<double>(value(h, "lr")), 0.01);
  EXPECT_EQ(std::get<double>(value(h, "momentum")), 0.9);
  EXPECT_EQ(std::get<std::string>(value(h, "scheduler")), "step");
  EXPECT_EQ(std::get<double>(value(h, "scheduler/step_size")), 7);
  EXPECT_EQ(std::get<std::string>(value(h, "scheduler/interval")), "epoch");
  EXPECT_EQ(std::get<std::string>(value(h, "eval_metric")), "top1");
  EXPECT_EQ(std::get<std::string>(value(h, "unfreeze")), "fc.* layer4.*");
  EXPECT_EQ(std::get<double>(value(h, "stage1/epochs")), 5);
  EXPECT_EQ(std::get<double>(value(h, "stage2/epochs")), 3);
  EXPECT_EQ(std::get<std::string>(value(h, "stage2/optimizer")), "adam");
  EXPECT_EQ(std::get<double>(value(h, "stage2/lr")), 1e-4);
  EXPECT_EQ(std::get<std::string>(value(h, "stage2/freeze")), "");
  EXPECT_EQ(std::get<double>(value(h, "stage2/param_groups")), 1);
  for (size_t i = 0; i < h.size(); ++i)
    for (size_t j = 0; j < i; ++j) EXPECT_NE(h[i].first, h[j].first);

  c.stages = {frozen};
  c.weights = "weights/resnet18.h5";
  const HParams one = hparams_of(c);
  EXPECT_EQ(std::get<std::string>(value(one, "weights")), "weights/resnet18.h5");
  EXPECT_EQ(std::get<double>(value(one, "epochs")), 5);
  for (const auto& [name, v] : one) EXPECT_EQ(name.find("stage1/"), std::string::npos) << name;
}

}  // namespace
}  // namespace afinar::train
