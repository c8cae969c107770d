#include "afinar/train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <variant>

#include "afinar/core/check.h"

namespace afinar::train {

namespace {

// Reflected CRC-32C table (polynomial 0x82F63B78).
const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// ---- protocol buffer wire format: just the pieces an Event needs ----
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char(uint8_t(v) | 0x80);
    v >>= 7;
  }
  out += char(uint8_t(v));
}
void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, uint64_t(field) << 3 | uint64_t(wire_type));
}
template <typename T>
void put_fixed(std::string& out, T v) {  // wire types 1 (8 bytes) and 5 (4 bytes), little-endian
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_uint(std::string& out, int field, uint64_t v) {  // int32, int64, enum and bool fields
  put_key(out, field, 0);
  put_varint(out, v);
}
void put_double(std::string& out, int field, double v) {
  put_key(out, field, 1);
  put_fixed(out, v);
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Event{wall_time, step} with the rest of its fields already encoded in `what`.
std::string event(int64_t step, const std::string& what) {
  std::string e;
  put_double(e, 1, now_seconds());
  put_uint(e, 2, uint64_t(step));  // a negative int64 is its two's complement
  return e + what;
}

// google.protobuf.Value of a hyper-parameter; the kind is a oneof, so even 0, false and "" are
// written.
std::string struct_value(const HParamValue& v) {
  std::string out;
  if (const double* d = std::get_if<double>(&v))
    put_double(out, 2, *d);
  else if (const std::string* s = std::get_if<std::string>(&v))
    put_bytes(out, 3, *s);
  else
    put_uint(out, 4, std::get<bool>(v) ? 1 : 0);
  return out;
}

// api.proto's DataType of a value.
uint64_t data_type(const HParamValue& v) {
  if (std::holds_alternative<std::string>(v)) return 1;  // DATA_TYPE_STRING
  if (std::holds_alternative<bool>(v)) return 2;         // DATA_TYPE_BOOL
  return 3;                                              // DATA_TYPE_FLOAT64
}

void check_unique_names(const HParams& hparams) {
  for (size_t i = 0; i < hparams.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      AFN_CHECK(hparams[i].first != hparams[j].first, "TensorBoard hparams: '", hparams[i].first,
                "' is given twice; each hyper-parameter needs its own name");
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = crc_table()[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& logdir) {
  std::filesystem::create_directories(logdir);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  path_ = logdir + "/events.out.tfevents." + std::to_string(int64_t(now_seconds())) + "." + host;
  file_ = std::fopen(path_.c_str(), "wb");
  AFN_CHECK(file_ != nullptr, "TensorBoard: cannot create ", path_, ": ", std::strerror(errno));
  std::string version;
  put_bytes(version, 3, "brain.Event:2");
  write_event(event(0, version));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  std::string v;
  put_bytes(v, 1, tag);
  put_key(v, 2, 5);
  put_fixed(v, float(value));  // simple_value is a float, as SummaryWriter writes it
  std::string summary;
  put_bytes(summary, 1, v);
  std::string what;
  put_bytes(what, 5, summary);
  write_event(event(step, what));
}

void TensorBoardWriter::add_hparams_experiment(const HParams& hparams,
                                               const std::vector<std::string>& metric_tags) {
  check_unique_names(hparams);
  std::string experiment;
  put_double(experiment, 3, now_seconds());  // time_created_secs
  for (const auto& [name, value] : hparams) {
    std::string info;
    put_bytes(info, 1, name);
    put_uint(info, 4, data_type(value));
    put_bytes(experiment, 4, info);
  }
  for (const std::string& tag : metric_tags) {
    std::string metric_name;
    put_bytes(metric_name, 2, tag);  // the group (field 1) stays empty: the metric is in this run
    std::string info;
    put_bytes(info, 1, metric_name);
    put_bytes(experiment, 5, info);
  }
  std::string data;
  put_bytes(data, 2, experiment);
  write_hparams("_hparams_/experiment", data);
}

void TensorBoardWriter::add_session_start(const HParams& hparams) {
  check_unique_names(hparams);
  std::string start;
  for (const auto& [name, value] : hparams) {
    std::string entry;
    put_bytes(entry, 1, name);
    put_bytes(entry, 2, struct_value(value));
    put_bytes(start, 1, entry);
  }
  put_double(start, 5, now_seconds());  // start_time_secs
  std::string data;
  put_bytes(data, 3, start);
  write_hparams("_hparams_/session_start_info", data);
}

void TensorBoardWriter::add_session_end(SessionStatus status) {
  std::string end;
  put_uint(end, 1, uint64_t(status));
  put_double(end, 2, now_seconds());  // end_time_secs
  std::string data;
  put_bytes(data, 4, end);
  write_hparams("_hparams_/session_end_info", data);
}

// A summary value with no value of its own, only metadata for the hparams plugin whose content
// is `plugin_data` (an HParamsPluginData; its version, 0, is the default and not written), at
// step 0, as torch's SummaryWriter writes it.
void TensorBoardWriter::write_hparams(const std::string& tag, const std::string& plugin_data) {
  std::string plugin;
  put_bytes(plugin, 1, "hparams");
  put_bytes(plugin, 2, plugin_data);
  std::string metadata;
  put_bytes(metadata, 1, plugin);
  std::string value;
  put_bytes(value, 1, tag);
  put_bytes(value, 9, metadata);
  std::string summary;
  put_bytes(summary, 1, value);
  std::string what;
  put_bytes(what, 5, summary);
  write_event(event(0, what));
}

void TensorBoardWriter::write_event(const std::string& data) {
  std::string record;
  const uint64_t length = data.size();
  put_fixed(record, length);
  put_fixed(record, masked_crc32c(&length, sizeof length));
  record += data;
  put_fixed(record, masked_crc32c(data.data(), data.size()));
  AFN_CHECK(std::fwrite(record.data(), 1, record.size(), file_) == record.size(),
            "TensorBoard: cannot write to ", path_, ": ", std::strerror(errno));
}

void TensorBoardWriter::flush() {
  AFN_CHECK(std::fflush(file_) == 0, "TensorBoard: cannot write to ", path_, ": ",
            std::strerror(errno));
}

}  // namespace afinar::train
