// TensorBoard event files, written from scratch: what torch.utils.tensorboard.SummaryWriter
// writes for add_scalar, readable by TensorBoard and its EventAccumulator.
//
// File: <logdir>/events.out.tfevents.<unix time>.<hostname>, a TFRecord stream of Event protocol
// buffers. Record: uint64 length | uint32 masked_crc32c(length) | data | uint32
// masked_crc32c(data), little-endian, masked_crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8
// (CRC-32C, Castagnoli). Event (tensorflow/core/util/event.proto): wall_time = 1 (double), step = 2
// (int64), file_version = 3 (string, "brain.Event:2" in the first record), summary = 5;
// Summary.value = 1 (repeated Value); Value.tag = 1 (string), Value.simple_value = 2 (float).
//
//   TensorBoardWriter tb("runs/exp1");
//   tb.add_scalar("Loss/train", 0.42, epoch);
//   tb.flush();
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace afinar::train {

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
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event_proto);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace afinar::train
