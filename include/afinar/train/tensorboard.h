// TensorBoard event files, written from scratch: what torch.utils.tensorboard.SummaryWriter
// writes for add_scalar, readable by TensorBoard and its EventAccumulator.
//
// File: <logdir>/events.out.tfevents.<unix time>.<hostname>, a TFRecord stream of Event protocol
// buffers. Record: uint64 length | uint32 masked_crc32c(length) | data | uint32
// masked_crc32c(data), little-endian, masked_crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8
// (CRC-32C, Castagnoli). Event (tensorflow/core/util/event.proto): wall_time = 1 (double), step = 2
// (int64), file_version = 3 (string, "brain.Event:2" in the first record), summary = 5;
// Summary.value = 1 (repeated Value); Value.tag = 1 (string), Value.simple_value = 2 (float),
// Value.metadata = 9 (SummaryMetadata: plugin_data = 1 {plugin_name = 1, content = 2 (bytes)}).
//
// Hyper-parameters for TensorBoard's HParams dashboard are what torch.utils.tensorboard's
// summary.hparams() writes: three summaries, tagged _hparams_/experiment,
// _hparams_/session_start_info and _hparams_/session_end_info, holding no value but metadata
// for the plugin "hparams" whose content is an HParamsPluginData
// (tensorboard/plugins/hparams/plugin_data.proto and api.proto):
//   HParamsPluginData: version = 1 (int32, 0), experiment = 2 | session_start_info = 3 |
//                      session_end_info = 4
//   Experiment:        time_created_secs = 3 (double), hparam_infos = 4, metric_infos = 5
//   HParamInfo:        name = 1, type = 4 (DataType: STRING 1, BOOL 2, FLOAT64 3)
//   MetricInfo:        name = 1 (MetricName: group = 1, tag = 2)
//   SessionStartInfo:  hparams = 1 (map<string, google.protobuf.Value>: entries key = 1,
//                      value = 2), start_time_secs = 5 (double)
//   google.protobuf.Value: number_value = 2 (double), string_value = 3, bool_value = 4
//   SessionEndInfo:    status = 1 (Status: SUCCESS 1, FAILURE 2, RUNNING 3), end_time_secs = 2
// The dashboard lists each run that has a session start as a session; a metric's value is the
// last value of the scalar of that tag in the same run (add_scalar). Two differences from
// SummaryWriter.add_hparams, by choice: the summaries go into this writer's own file (the run's
// directory, beside its scalars) rather than into a new sub-directory named by the time, and a
// bool is a bool (DATA_TYPE_BOOL), where torch's turns a Python bool into a number.
//
//   TensorBoardWriter tb("runs/exp1");
//   tb.add_hparams_experiment({{"lr", 0.01}, {"opt", "sgd"}}, {"hparam/best_val_acc"});
//   tb.add_session_start({{"lr", 0.01}, {"opt", "sgd"}});
//   tb.add_scalar("Loss/train", 0.42, epoch);
//   tb.add_scalar("hparam/best_val_acc", 0.91, epoch);
//   tb.add_session_end(SessionStatus::Success);
//   tb.flush();
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace afinar::train {

// A hyper-parameter's value: a number, a string or a bool (its DataType follows).
using HParamValue = std::variant<double, std::string, bool>;
using HParams = std::vector<std::pair<std::string, HParamValue>>;  // names unique, in order

// api.proto's Status of a session (a run).
enum class SessionStatus { Unknown = 0, Success = 1, Failure = 2, Running = 3 };

// CRC-32C of `n` bytes (the checksum TFRecord uses), and TFRecord's masked form of it.
uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const void* data, size_t n);

class TensorBoardWriter {
 public:
  // Creates `logdir` if needed and a new event file in it.
  explicit TensorBoardWriter(const std::string& logdir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void add_scalar(const std::string& tag, double value, int64_t step);
  // The experiment: each hyper-parameter's name and type, and the tags of the metrics (scalars
  // of this run) the dashboard shows beside them.
  void add_hparams_experiment(const HParams& hparams, const std::vector<std::string>& metric_tags);
  // The session's hyper-parameter values, and its start time (now).
  void add_session_start(const HParams& hparams);
  // How the session ended, and when (now).
  void add_session_end(SessionStatus status);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event_proto);
  void write_hparams(const std::string& tag, const std::string& plugin_data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace afinar::train
