// The zip layer on a real torch.save archive (tests/data/fixtures/pth, made by torch 1.13), on
// archives it writes itself (alignment, CRC, ZIP64 records), and on broken archives: compressed
// entries, bad CRCs, every truncation and corrupted directory bytes must give afinar::Error.
#include "afinar/io/zip.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Opens the archive and reads every entry (CRC included), as a loader would.
void read_everything(const std::string& path) {
  io::ZipReader zip(io::MappedFile::open(path));
  for (const io::ZipEntry& e : zip.entries()) zip.read(e);
}

std::string fixture(const std::string& name) {
  return testing::test_data_path("fixtures/pth/" + name);
}

TEST(Zip, ReadsTorchSaveArchive) {
  io::ZipReader zip(io::MappedFile::open(fixture("mixed_zip.pth")));
  ASSERT_FALSE(zip.entries().empty());
  EXPECT_EQ(zip.entries().front().name, "mixed_zip/data.pkl");
  EXPECT_EQ(zip.read(zip.at("mixed_zip/version")).view(), "3\n");
  int storages = 0;
  for (const io::ZipEntry& e : zip.entries()) {
    EXPECT_EQ(e.name.rfind("mixed_zip/", 0), 0u) << e.name;
    EXPECT_EQ(e.method, 0) << e.name;
    if (e.size == 0) continue;  // torch writes an empty storage without a data descriptor
    EXPECT_EQ(e.flags & 8, 8) << e.name << ": torch.save sets bit 3 (sizes after the data)";
    if (e.name.find("/data/") != std::string::npos) {
      ++storages;
      EXPECT_EQ(e.data_offset % 64, 0u) << e.name << ": torch aligns storages to 64 bytes";
    }
    EXPECT_NO_THROW(zip.read(e)) << e.name;
  }
  EXPECT_GT(storages, 10);
  EXPECT_EQ(zip.find("mixed_zip/nope"), nullptr);
  EXPECT_THROW(zip.at("mixed_zip/nope"), Error);
}

TEST(Zip, WriterRoundTripsWithTorchLayout) {
  testing::TempDir dir;
  const std::string path = dir / "out.zip";
  const std::string big(100000, 'q'), small = "hello", empty;
  {
    io::ZipWriter w(path);
    w.add("out/data.pkl", small.data(), small.size());
    w.add("out/data/0", big.data(), big.size());
    w.add("out/empty", empty.data(), 0);
    w.finish();
  }
  const std::string bytes = read_bytes(path);
  EXPECT_EQ(bytes.substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_NE(bytes.find(std::string("PK\x06\x06", 4)), std::string::npos) << "ZIP64 end record";
  EXPECT_NE(bytes.find(std::string("PK\x06\x07", 4)), std::string::npos) << "ZIP64 locator";
  io::ZipReader zip(io::MappedFile::open(path));
  ASSERT_EQ(zip.entries().size(), 3u);
  EXPECT_EQ(zip.read(zip.at("out/data.pkl")).view(), small);
  EXPECT_EQ(zip.read(zip.at("out/data/0")).view(), big);
  EXPECT_EQ(zip.read(zip.at("out/empty")).size, 0u);
  for (const io::ZipEntry& e : zip.entries()) {
    EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
    EXPECT_EQ(e.flags, 0x0808) << e.name;
  }
  // zlib's CRC-32 of "hello" (0x3610a686), stored in the central directory.
  EXPECT_EQ(zip.at("out/data.pkl").crc32, 0x3610a686u);
}

TEST(Zip, Zip64FieldsRoundTrip) {
  // zip64_from = 0: every size and offset goes through ZIP64 extra fields, as in files > 4 GiB.
  testing::TempDir dir;
  const std::string path = dir / "z64.zip";
  const std::string a(1000, 'a'), b(70, 'b');
  {
    io::ZipWriter w(path, /*zip64_from=*/0);
    w.add("z/a", a.data(), a.size());
    w.add("z/b", b.data(), b.size());
    w.finish();
  }
  io::ZipReader zip(io::MappedFile::open(path));
  ASSERT_EQ(zip.entries().size(), 2u);
  EXPECT_EQ(zip.read(zip.at("z/a")).view(), a);
  EXPECT_EQ(zip.read(zip.at("z/b")).view(), b);
  EXPECT_EQ(zip.at("z/b").data_offset % 64, 0u);
}

TEST(Zip, CompressedEntryIsRefusedNamingIt) {
  io::ZipReader zip(io::MappedFile::open(fixture("compressed_zip.pth")));
  try {
    zip.read(zip.at("mixed_zip/data.pkl"));
    FAIL() << "a deflated entry was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'mixed_zip/data.pkl' is compressed"), std::string::npos)
        << e.what();
  }
}

TEST(Zip, CorruptDataFailsItsCrc) {
  testing::TempDir dir;
  std::string bytes = read_bytes(fixture("mixed_zip.pth"));
  const io::ZipEntry entry = [&] {
    io::ZipReader zip(io::MappedFile::open(fixture("mixed_zip.pth")));
    return zip.at("mixed_zip/data/0");
  }();
  bytes[entry.data_offset + 1] ^= 0x40;
  write_bytes(dir / "bad.pth", bytes);
  io::ZipReader zip(io::MappedFile::open(dir / "bad.pth"));
  try {
    zip.read(zip.at("mixed_zip/data/0"));
    FAIL() << "corrupt data passed the CRC check";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CRC-32"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(zip.read(zip.at("mixed_zip/data/0"), /*check_crc=*/false));
}

TEST(Zip, EveryTruncationIsAnError) {
  testing::TempDir dir;
  const std::string bytes = read_bytes(fixture("mixed_zip.pth"));
  for (size_t len = 0; len < bytes.size(); ++len) {
    write_bytes(dir / "cut.pth", bytes.substr(0, len));
    EXPECT_THROW(read_everything(dir / "cut.pth"), Error) << "length " << len;
  }
}

TEST(Zip, CorruptDirectoryBytesGiveErrorsNotCrashes) {
  // Every byte of the central directory and end records, set to 0xff then to 0x00 in turn: the
  // reader either copes (a field it does not use) or throws afinar::Error; it never reads outside
  // the file.
  testing::TempDir dir;
  const std::string bytes = read_bytes(fixture("mixed_zip.pth"));
  const size_t first_cd = bytes.find(std::string("PK\x01\x02", 4));
  ASSERT_NE(first_cd, std::string::npos);
  int errors = 0;
  for (size_t pos = first_cd; pos < bytes.size(); ++pos) {
    for (char value : {'\xff', '\x00'}) {
      std::string bad = bytes;
      if (bad[pos] == value) continue;
      bad[pos] = value;
      write_bytes(dir / "bad.pth", bad);
      try {
        read_everything(dir / "bad.pth");
      } catch (const Error&) {
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 100);  // the offsets, sizes and signatures were noticed
}

}  // namespace
}  // namespace afinar
