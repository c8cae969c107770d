// TensorBoard event files: CRC-32C check values, scalars and hparams records decoded field by
// field, what RunLog writes for the HParams dashboard, and (where /usr/bin/python3 imports the
// tensorboard package) TensorBoard's own EventAccumulator and HParams plugin reading them.
#include "afinar/train/tensorboard.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "afinar/core/check.h"
#include "afinar/train/run_log.h"
#include "afinar/train/trainer.h"
#include "testing/python.h"
#include "testing/temp_dir.h"

namespace afinar::train {
namespace {

TEST(TensorBoard, Crc32cCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the CRC catalogue's check value
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720, B.4
}

// One summary value of an event file: a scalar (has_value), or metadata for a plugin.
struct Record {
  int64_t step = 0;
  std::string tag;
  float value = 0;
  bool has_value = false;
  std::string plugin, content;  // SummaryMetadata.plugin_data
};

// A minimal reader: checks each record's framing and CRCs, returns the first record's
// file_version and every summary value.
uint64_t varint(const std::string& s, size_t& i) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t b = uint8_t(s.at(i++));
    v |= uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
}
template <typename T>
T fixed(const std::string& s, size_t& i) {
  T v;
  std::memcpy(&v, s.data() + i, sizeof v);
  i += sizeof v;
  return v;
}
// Calls fn(field, wire_type, payload-or-empty, varint-or-0) for each field of a message.
template <typename Fn>
void fields(const std::string& m, Fn&& fn) {
  for (size_t i = 0; i < m.size();) {
    const uint64_t key = varint(m, i);
    const int field = int(key >> 3), wt = int(key & 7);
    if (wt == 0) {
      fn(field, wt, std::string(), varint(m, i));
    } else if (wt == 1) {
      fn(field, wt, m.substr(i, 8), 0);
      i += 8;
    } else if (wt == 5) {
      fn(field, wt, m.substr(i, 4), 0);
      i += 4;
    } else {
      const uint64_t n = varint(m, i);
      fn(field, wt, m.substr(i, n), 0);
      i += n;
    }
  }
}

std::vector<Record> read_events(const std::string& path, std::string& file_version) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<Record> out;
  for (size_t i = 0; i < bytes.size();) {
    const uint64_t len = fixed<uint64_t>(bytes, i);
    EXPECT_EQ(fixed<uint32_t>(bytes, i), masked_crc32c(&len, 8));
    const std::string data = bytes.substr(i, len);
    i += len;
    EXPECT_EQ(fixed<uint32_t>(bytes, i), masked_crc32c(data.data(), data.size()));
    int64_t step = 0;
    fields(data, [&](int f, int, const std::string& p, uint64_t v) {
      if (f == 2) step = int64_t(v);
      if (f == 3) file_version = p;
      if (f != 5) return;
      fields(p, [&](int, int, const std::string& value, uint64_t) {
        Record r;
        r.step = step;
        fields(value, [&](int vf, int, const std::string& vp, uint64_t) {
          if (vf == 1) r.tag = vp;
          if (vf == 2) {
            std::memcpy(&r.value, vp.data(), 4);
            r.has_value = true;
          }
          if (vf != 9) return;  // SummaryMetadata
          fields(vp, [&](int mf, int, const std::string& plugin_data, uint64_t) {
            if (mf != 1) return;
            fields(plugin_data, [&](int pf, int, const std::string& pp, uint64_t) {
              (pf == 1 ? r.plugin : r.content) = pp;
            });
          });
        });
        out.push_back(r);
      });
    });
  }
  return out;
}

TEST(TensorBoard, ScalarsDecodeToWhatWasWritten) {
  testing::TempDir dir;
  std::string path;
  {
    TensorBoardWriter tb(dir / "run");
    tb.add_scalar("Loss/train", 0.5, 0);
    tb.add_scalar("Acc/val", 0.875, 3);
    tb.add_scalar("LR", 1e-4, 300);
    path = tb.path();
  }
  EXPECT_NE(path.find("/run/events.out.tfevents."), std::string::npos);
  std::string version;
  const auto s = read_events(path, version);
  EXPECT_EQ(version, "brain.Event:2");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].tag, "Loss/train");
  EXPECT_EQ(s[0].value, 0.5f);
  EXPECT_EQ(s[1].step, 3);
  EXPECT_EQ(s[1].value, 0.875f);
  EXPECT_EQ(s[2].tag, "LR");
  EXPECT_EQ(s[2].step, 300);
  EXPECT_EQ(s[2].value, 1e-4f);
}

// An HParamsPluginData decoded field by field (tensorboard/plugins/hparams/plugin_data.proto).
struct HParamsData {
  int kind = 0;  // the oneof's field: 2 experiment, 3 session start, 4 session end
  std::vector<std::pair<std::string, uint64_t>> infos;  // experiment: name, DataType
  std::vector<std::string> metric_tags;                 // experiment: MetricName.tag
  struct Value {
    std::string name;
    int kind;  // google.protobuf.Value's field: 2 number, 3 string, 4 bool
    double number;
    std::string text;
    uint64_t flag;
  };
  std::vector<Value> values;  // session start
  uint64_t status = 0;        // session end
  double seconds = 0;         // time_created_secs, start_time_secs or end_time_secs
};

double as_double(const std::string& bytes) {
  double d;
  std::memcpy(&d, bytes.data(), 8);
  return d;
}

HParamsData decode_hparams(const std::string& content) {
  HParamsData d;
  fields(content, [&](int f, int, const std::string& m, uint64_t) {
    d.kind = f;
    fields(m, [&](int g, int, const std::string& p, uint64_t v) {
      if (f == 2 && g == 3) d.seconds = as_double(p);
      if (f == 2 && g == 4) {
        std::pair<std::string, uint64_t> info;
        fields(p, [&](int h, int, const std::string& q, uint64_t w) {
          if (h == 1) info.first = q;
          if (h == 4) info.second = w;
        });
        d.infos.push_back(info);
      }
      if (f == 2 && g == 5)
        fields(p, [&](int, int, const std::string& name, uint64_t) {
          fields(name, [&](int h, int, const std::string& q, uint64_t) {
            if (h == 2) d.metric_tags.push_back(q);
          });
        });
      if (f == 3 && g == 1) {
        HParamsData::Value value{};
        fields(p, [&](int h, int, const std::string& q, uint64_t) {
          if (h == 1) value.name = q;
          if (h == 2)
            fields(q, [&](int k, int, const std::string& r, uint64_t w) {
              value.kind = k;
              if (k == 2) value.number = as_double(r);
              if (k == 3) value.text = r;
              if (k == 4) value.flag = w;
            });
        });
        d.values.push_back(value);
      }
      if (f == 3 && g == 5) d.seconds = as_double(p);
      if (f == 4 && g == 1) d.status = v;
      if (f == 4 && g == 2) d.seconds = as_double(p);
    });
  });
  return d;
}

// Seconds since 1970 for a time written just now (2023-11-14 and 2100 bound it).
void expect_now(double seconds) {
  EXPECT_GT(seconds, 1.7e9);
  EXPECT_LT(seconds, 4.1e9);
}

TEST(TensorBoard, HParamsDecodeToWhatWasWritten) {
  testing::TempDir dir;
  const HParams h = {{"lr", 0.01},  {"optimizer", "sgd"}, {"nesterov", true},
                     {"zero", 0.0}, {"off", false},       {"empty", std::string()}};
  std::string path;
  {
    TensorBoardWriter tb(dir / "run");
    tb.add_hparams_experiment(h, {"hparam/acc", "hparam/loss"});
    tb.add_session_start(h);
    tb.add_session_end(SessionStatus::Success);
    path = tb.path();
  }
  std::string version;
  const std::vector<Record> r = read_events(path, version);
  ASSERT_EQ(r.size(), 3u);
  const char* tags[3] = {"_hparams_/experiment", "_hparams_/session_start_info",
                         "_hparams_/session_end_info"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r[i].tag, tags[i]);
    EXPECT_EQ(r[i].plugin, "hparams");
    EXPECT_EQ(r[i].step, 0);
    EXPECT_FALSE(r[i].has_value);  // metadata only, as torch writes them
  }
  const HParamsData experiment = decode_hparams(r[0].content);
  EXPECT_EQ(experiment.kind, 2);
  // DataType: FLOAT64 3, STRING 1, BOOL 2.
  const std::vector<std::pair<std::string, uint64_t>> infos = {
      {"lr", 3}, {"optimizer", 1}, {"nesterov", 2}, {"zero", 3}, {"off", 2}, {"empty", 1}};
  EXPECT_EQ(experiment.infos, infos);
  EXPECT_EQ(experiment.metric_tags, (std::vector<std::string>{"hparam/acc", "hparam/loss"}));
  expect_now(experiment.seconds);

  const HParamsData start = decode_hparams(r[1].content);
  EXPECT_EQ(start.kind, 3);
  ASSERT_EQ(start.values.size(), 6u);
  // Every value is written, the defaults (0, false, "") too: Value's kind is a oneof.
  EXPECT_EQ(start.values[0].name, "lr");
  EXPECT_EQ(start.values[0].kind, 2);
  EXPECT_EQ(start.values[0].number, 0.01);
  EXPECT_EQ(start.values[1].kind, 3);
  EXPECT_EQ(start.values[1].text, "sgd");
  EXPECT_EQ(start.values[2].kind, 4);
  EXPECT_EQ(start.values[2].flag, 1u);
  EXPECT_EQ(start.values[3].kind, 2);
  EXPECT_EQ(start.values[3].number, 0.0);
  EXPECT_EQ(start.values[4].kind, 4);
  EXPECT_EQ(start.values[4].flag, 0u);
  EXPECT_EQ(start.values[5].name, "empty");
  EXPECT_EQ(start.values[5].kind, 3);
  EXPECT_EQ(start.values[5].text, "");
  expect_now(start.seconds);

  const HParamsData end = decode_hparams(r[2].content);
  EXPECT_EQ(end.kind, 4);
  EXPECT_EQ(end.status, 1u);  // STATUS_SUCCESS
  expect_now(end.seconds);
}

TEST(TensorBoard, HParamNamesMustBeUnique) {
  testing::TempDir dir;
  TensorBoardWriter tb(dir / "run");
  EXPECT_THROW(tb.add_session_start({{"lr", 0.1}, {"lr", 0.2}}), Error);
  EXPECT_THROW(tb.add_hparams_experiment({{"lr", 0.1}, {"lr", "x"}}, {}), Error);
}

// The one event file in `dir`.
std::string event_file(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      found.push_back(e.path().string());
  EXPECT_EQ(found.size(), 1u) << dir;
  return found.empty() ? "" : found[0];
}

std::vector<Record> records_of(const std::string& dir) {
  std::string version;
  return read_events(event_file(dir), version);
}

const Record* find(const std::vector<Record>& records, const std::string& tag) {
  for (const Record& r : records)
    if (r.tag == tag) return &r;
  return nullptr;
}
// The pointer would outlive a temporary vector (AddressSanitizer found one such call).
const Record* find(std::vector<Record>&& records, const std::string& tag) = delete;

EpochStats epoch_stats(const std::vector<int64_t>& targets, const std::vector<int64_t>& predictions,
                       double loss) {
  EpochStats s;
  s.confusion = ConfusionMatrix(2);
  s.confusion.add(targets, predictions);
  s.accuracy = s.confusion.accuracy();
  s.loss = loss;
  s.samples = int64_t(targets.size());
  return s;
}

// best: targets [0,0,1,1], predictions [0,1,1,1]: accuracy 3/4; class 0 F1 2/3 (tp 1, fn 1),
// class 1 F1 4/5 (tp 2, fp 1): macro F1 11/15. test: targets [0,1], predictions [1,1]: accuracy
// 1/2; class 0 F1 0, class 1 F1 2/3 (tp 1, fp 1): macro F1 1/3.
TrainResult finished_run() {
  TrainResult r;
  r.best = epoch_stats({0, 0, 1, 1}, {0, 1, 1, 1}, 0.5);
  r.best_epoch = 1;
  r.has_test = true;
  r.test = epoch_stats({0, 1}, {1, 1}, 0.9);
  r.steps = 12;
  return r;
}

TrainConfig config(double lr, const std::string& optimizer) {
  TrainConfig c;
  c.stages[0].optimizer = {optimizer, {{"lr", lr}}};
  return c;
}

TEST(TensorBoard, RunLogWritesTheRunsHParamsAndMetrics) {
  testing::TempDir dir;
  const TrainResult r = finished_run();
  {
    RunLog log(dir.path(), {"a", "b"});
    log.hparams_start(config(0.01, "sgd"));
    log.epoch(1, "train", r.best, 0.01);
    log.epoch(1, "val", r.best, 0.01);
    log.hparams_end(r, true);
  }
  const std::vector<Record> records = records_of(dir.path());
  ASSERT_FALSE(records.empty());
  const Record* experiment = find(records, "_hparams_/experiment");
  const Record* start = find(records, "_hparams_/session_start_info");
  ASSERT_TRUE(experiment && start);
  EXPECT_EQ(
      decode_hparams(experiment->content).metric_tags,
      (std::vector<std::string>{"hparam/best_val_acc", "hparam/best_val_loss",
                                "hparam/best_val_f1_macro", "hparam/best_epoch", "hparam/test_acc",
                                "hparam/test_loss", "hparam/test_f1_macro"}));
  const HParamsData values = decode_hparams(start->content);
  EXPECT_EQ(values.values.size(), hparams_of(config(0.01, "sgd")).size());
  int checked = 0;
  for (const HParamsData::Value& v : values.values) {
    if (v.name == "lr") {
      EXPECT_EQ(v.number, 0.01);
      ++checked;
    } else if (v.name == "optimizer") {
      EXPECT_EQ(v.text, "sgd");
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
  // The metrics: float32 scalars (simple_value) at the run's last step.
  const std::pair<const char*, float> metrics[] = {{"hparam/best_val_acc", 0.75f},
                                                   {"hparam/best_val_loss", 0.5f},
                                                   {"hparam/best_val_f1_macro", 11.0f / 15},
                                                   {"hparam/best_epoch", 1.0f},
                                                   {"hparam/test_acc", 0.5f},
                                                   {"hparam/test_loss", 0.9f},
                                                   {"hparam/test_f1_macro", 1.0f / 3}};
  for (const auto& [tag, value] : metrics) {
    SCOPED_TRACE(tag);
    const Record* m = find(records, tag);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(m->has_value);
    EXPECT_FLOAT_EQ(m->value, value);
    EXPECT_EQ(m->step, 12);
  }
  EXPECT_EQ(records.back().tag, "_hparams_/session_end_info");
  EXPECT_EQ(decode_hparams(records.back().content).status, 1u);  // STATUS_SUCCESS
}

TEST(TensorBoard, RunLogEndsTheSessionWhenTheRunFinishesOrFails) {
  {  // stopped to be resumed (max_steps, Ctrl-C): metrics so far, the session left open
    testing::TempDir dir;
    {
      RunLog log(dir.path());
      log.hparams_start(config(0.1, "sgd"));
      log.hparams_end(finished_run(), false);
    }
    const std::vector<Record> records = records_of(dir.path());
    EXPECT_EQ(find(records, "_hparams_/session_end_info"), nullptr);
    EXPECT_EQ(find(records, "hparam/best_val_acc"), nullptr);  // no "val" epoch was logged
    EXPECT_NE(find(records, "hparam/test_acc"), nullptr);
  }
  {  // an error unwinds through the run: the session failed
    testing::TempDir dir;
    EXPECT_THROW(
        {
          RunLog log(dir.path());
          log.hparams_start(config(0.1, "sgd"));
          AFN_FAIL("training diverged");
        },
        Error);
    const std::vector<Record> records = records_of(dir.path());
    const Record* end = find(records, "_hparams_/session_end_info");
    ASSERT_NE(end, nullptr);
    EXPECT_EQ(decode_hparams(end->content).status, 2u);  // STATUS_FAILURE
  }
  {  // an error before hparams_start: no session at all
    testing::TempDir dir;
    EXPECT_THROW(
        {
          RunLog log(dir.path());
          AFN_FAIL("bad recipe");
        },
        Error);
    for (const Record& r : records_of(dir.path())) EXPECT_NE(r.plugin, "hparams") << r.tag;
  }
}

// TensorBoard's own Python reader, where /usr/bin/python3 imports it (tools/test.sh puts the
// .python-test-tools/ that tools/setup.sh fills from PyPI on PYTHONPATH).
bool tensorboard_available() {
  static const bool ok = testing::run("/usr/bin/python3 -c 'import tensorboard'").code == 0;
  return ok;
}

#define SKIP_WITHOUT_TENSORBOARD()                                                             \
  if (!tensorboard_available())                                                                \
  GTEST_SKIP() << "needs the Python tensorboard package for /usr/bin/python3: tools/setup.sh " \
                  "installs it into .python-test-tools/, which tools/test.sh puts on PYTHONPATH"

TEST(TensorBoard, TensorBoardReaderParsesTheFile) {
  SKIP_WITHOUT_TENSORBOARD();
  testing::TempDir dir;
  {
    TensorBoardWriter tb(dir / "run");
    for (int e = 0; e < 3; ++e) tb.add_scalar("Loss/val", 1.0 / (e + 1), e);
  }
  const testing::Result r = testing::python(
      dir,
      "import sys\n"
      "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
      "a = EventAccumulator(sys.argv[1]); a.Reload()\n"
      "v = [(e.step, round(e.value, 6)) for e in a.Scalars('Loss/val')]\n"
      "assert v == [(0, 1.0), (1, 0.5), (2, 0.333333)], v\n",
      dir / "run");
  EXPECT_EQ(r.code, 0) << r.output;
}

// Two runs as the HParams dashboard shows them: run "a" finished (its hyper-parameters, metric
// values and success), run "b" failed after its start. Read with the plugin's event accumulator
// and with the plugin's own request handlers over TensorBoard's data provider.
TEST(TensorBoard, HParamsPluginReadsTheRuns) {
  SKIP_WITHOUT_TENSORBOARD();
  testing::TempDir dir;
  {
    RunLog log(dir / "runs/a", {"x", "y"});
    log.hparams_start(config(0.01, "sgd"));
    const TrainResult r = finished_run();
    log.epoch(1, "val", r.best, 0.01);
    log.hparams_end(r, true);
  }
  try {
    RunLog log(dir / "runs/b");
    log.hparams_start(config(0.001, "adam"));
    AFN_FAIL("training diverged");
  } catch (const Error&) {
  }
  const testing::Result r = testing::python(dir, R"(
import sys
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_accumulator
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment
from tensorboard.plugins.hparams import list_session_groups, metadata

logdir = sys.argv[1]
acc = plugin_event_accumulator.EventAccumulator(logdir + '/a')
acc.Reload()
content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
assert sorted(content) == sorted([metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG,
                                  metadata.SESSION_END_INFO_TAG]), content
start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
assert start.hparams['lr'].number_value == 0.01, start
assert start.hparams['optimizer'].string_value == 'sgd', start
assert start.hparams['augment'].bool_value is True, start
end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
assert end.status == api_pb2.STATUS_SUCCESS, end

mux = plugin_event_multiplexer.EventMultiplexer()
mux.AddRunsFromDirectory(logdir)
mux.Reload()
provider = data_provider.MultiplexerDataProvider(mux, logdir)
ctx = backend_context.Context(
    base_plugin.TBContext(logdir=logdir, multiplexer=mux, data_provider=provider))
rc = context.RequestContext()
exp = get_experiment.Handler(rc, ctx, '', api_pb2.GetExperimentRequest()).run()
types = {h.name: h.type for h in exp.hparam_infos}
assert types['lr'] == api_pb2.DATA_TYPE_FLOAT64, types
assert types['optimizer'] == api_pb2.DATA_TYPE_STRING, types
assert types['augment'] == api_pb2.DATA_TYPE_BOOL, types
tags = [m.name.tag for m in exp.metric_infos]
assert 'hparam/best_val_acc' in tags and 'hparam/test_acc' in tags, tags

request = api_pb2.ListSessionGroupsRequest(
    start_index=0, slice_size=10,
    allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE,
                      api_pb2.STATUS_RUNNING])
groups = list_session_groups.Handler(rc, ctx, '', request).run().session_groups
runs = {g.name: g for g in groups}
assert sorted(runs) == ['a', 'b'], runs
a, b = runs['a'], runs['b']
assert a.hparams['lr'].number_value == 0.01 and b.hparams['lr'].number_value == 0.001
assert b.hparams['optimizer'].string_value == 'adam'
assert a.sessions[0].status == api_pb2.STATUS_SUCCESS, a
assert b.sessions[0].status == api_pb2.STATUS_FAILURE, b
metrics = {m.name.tag: m.value for m in a.metric_values}
expected = {'hparam/best_val_acc': 0.75, 'hparam/best_val_loss': 0.5,
            'hparam/best_val_f1_macro': 11 / 15, 'hparam/best_epoch': 1, 'hparam/test_acc': 0.5,
            'hparam/test_loss': 0.9, 'hparam/test_f1_macro': 1 / 3}
for tag, value in expected.items():
    assert abs(metrics[tag] - value) < 1e-6, (tag, metrics)   # float32 values
print('ok', len(groups), 'session groups')
)",
                                            dir / "runs");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "ok 2 session groups")) << r.output;
}

// The three hparams summaries equal, message for message, what torch.utils.tensorboard's
// summary.hparams() makes of the same values, but for the times, which afinar sets and torch
// leaves 0. (No bool here: torch writes a Python bool as a number, being an int.)
TEST(TensorBoard, HParamsEqualTorchs) {
  SKIP_WITHOUT_TENSORBOARD();
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  {
    TensorBoardWriter tb(dir / "run");
    const HParams h = {{"lr", 0.01}, {"optimizer", "sgd"}, {"epochs", 10.0}};
    tb.add_hparams_experiment(h, {"hparam/acc"});
    tb.add_session_start(h);
    tb.add_session_end(SessionStatus::Success);
  }
  const testing::Result r = testing::python(dir, R"(
import glob, sys
from torch.utils.tensorboard.summary import hparams
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.plugins.hparams import plugin_data_pb2

torch_values = {s.value[0].tag: s.value[0] for s in
                hparams({'lr': 0.01, 'optimizer': 'sgd', 'epochs': 10}, {'hparam/acc': 0.5})}
ours = {}
for event in event_file_loader.EventFileLoader(glob.glob(sys.argv[1] + '/events.*')[0]).Load():
    ours.update({v.tag: v for v in event.summary.value})
assert sorted(ours) == sorted(torch_values), ours
for tag, value in ours.items():
    theirs = torch_values[tag].metadata.plugin_data
    assert value.metadata.plugin_data.plugin_name == theirs.plugin_name, value
    a = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    b = plugin_data_pb2.HParamsPluginData.FromString(theirs.content)
    which = a.WhichOneof('data')
    getattr(a, which).ClearField({'experiment': 'time_created_secs',
                                  'session_start_info': 'start_time_secs',
                                  'session_end_info': 'end_time_secs'}[which])
    assert a == b, (tag, a, b)
print('ok')
)",
                                            dir / "run");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "ok")) << r.output;
}

}  // namespace
}  // namespace afinar::train
