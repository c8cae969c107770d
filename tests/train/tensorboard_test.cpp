// TensorBoard event files: CRC-32C check values, records decoded field by field, and (where the
// Python tensorboard package is installed) TensorBoard's own EventAccumulator reading them.
#include "afinar/train/tensorboard.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "testing/cli.h"
#include "testing/temp_dir.h"

namespace afinar::train {
namespace {

TEST(TensorBoard, Crc32cCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the CRC catalogue's check value
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720, B.4
}

struct Scalar {
  int64_t step;
  std::string tag;
  float value;
};

// A minimal reader: checks each record's framing and CRCs, returns the first record's
// file_version and every scalar.
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

std::vector<Scalar> read_events(const std::string& path, std::string& file_version) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<Scalar> out;
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
        Scalar s{step, "", 0};
        fields(value, [&](int vf, int, const std::string& vp, uint64_t) {
          if (vf == 1) s.tag = vp;
          if (vf == 2) std::memcpy(&s.value, vp.data(), 4);
        });
        out.push_back(s);
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

TEST(TensorBoard, TensorBoardReaderParsesTheFile) {
  if (testing::run("python3 -c 'import tensorboard'").code != 0)
    GTEST_SKIP() << "the Python tensorboard package is not installed (pip install tensorboard)";
  testing::TempDir dir;
  {
    TensorBoardWriter tb(dir / "run");
    for (int e = 0; e < 3; ++e) tb.add_scalar("Loss/val", 1.0 / (e + 1), e);
  }
  const std::string script =
      "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
      "a = EventAccumulator('" +
      dir / "run" +
      "'); a.Reload()\n"
      "v = [(e.step, round(e.value, 6)) for e in a.Scalars('Loss/val')]\n"
      "assert v == [(0, 1.0), (1, 0.5), (2, 0.333333)], v\n";
  std::ofstream(dir / "check.py") << script;
  const testing::Result r = testing::run("python3 " + (dir / "check.py"));
  EXPECT_EQ(r.code, 0) << r.output;
}

}  // namespace
}  // namespace afinar::train
