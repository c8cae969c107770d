#include "afinar/train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

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

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Event{wall_time, step} with the rest of its fields already encoded in `what`.
std::string event(int64_t step, const std::string& what) {
  std::string e;
  put_key(e, 1, 1);
  put_fixed(e, now_seconds());
  put_key(e, 2, 0);
  put_varint(e, uint64_t(step));
  return e + what;
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
