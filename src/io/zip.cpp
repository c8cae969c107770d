// Zip reading and writing for torch.save archives (see include/afinar/io/zip.h). Record layouts
// from PKWARE's APPNOTE.TXT 6.3: sections 4.3.7 (local header), 4.3.12 (central directory
// header), 4.3.14-16 (ZIP64 end record, locator, end record), 4.5.3 (ZIP64 extra field).
#include "afinar/io/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "afinar/core/check.h"

namespace afinar::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kLocator64Sig = 0x07064b50;
constexpr uint32_t kDescriptorSig = 0x08074b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kPaddingExtraId = 0x4246;  // "FB": torch.save's alignment padding
constexpr uint32_t kMax32 = 0xffffffff;
constexpr uint16_t kMax16 = 0xffff;
constexpr size_t kEndSize = 22, kLocatorSize = 20, kEnd64Size = 56, kCentralSize = 46;
constexpr size_t kLocalSize = 30, kAlignment = 64;

uint32_t crc32_of(const uint8_t* data, size_t size) {
  return uint32_t(crc32_z(0, data, size));
}

// The end-of-central-directory record: the last "PK\5\6" whose comment runs exactly to the end of
// the file (a signature inside the comment or the data would not).
uint64_t find_end_record(const ByteSpan& file) {
  AFN_CHECK(file.size >= kEndSize, *file.source, ": too short to be a zip archive (", file.size,
            " bytes)");
  const uint64_t lowest = file.size > kEndSize + kMax16 ? file.size - kEndSize - kMax16 : 0;
  for (uint64_t pos = file.size - kEndSize + 1; pos-- > lowest;) {
    if (file.u32(pos, "end record") == kEndSig &&
        pos + kEndSize + file.u16(pos + 20, "end record comment length") == file.size)
      return pos;
  }
  AFN_FAIL(*file.source,
           ": no zip end-of-central-directory record; the file is truncated or not a zip archive");
}

// Values of a central directory entry that the ZIP64 extra field replaces when they read
// 0xffffffff (APPNOTE 4.5.3: present in this order, and only those that overflowed).
void apply_zip64_extra(const ByteSpan& extra, ZipEntry& e, uint64_t& header_offset,
                       const std::string& source) {
  const bool need_size = e.size == kMax32, need_csize = e.compressed_size == kMax32;
  const bool need_offset = header_offset == kMax32;
  for (uint64_t pos = 0; pos + 4 <= extra.size;) {
    const uint16_t id = extra.u16(pos, "extra field id");
    const uint16_t len = extra.u16(pos + 2, "extra field length");
    const ByteSpan body = extra.sub(pos + 4, len, "extra field");
    if (id == kZip64ExtraId) {
      uint64_t at = 0;
      if (need_size) e.size = body.u64(at, "ZIP64 size"), at += 8;
      if (need_csize) e.compressed_size = body.u64(at, "ZIP64 compressed size"), at += 8;
      if (need_offset) header_offset = body.u64(at, "ZIP64 header offset");
      return;
    }
    pos += 4 + uint64_t(len);
  }
  AFN_CHECK(!need_size && !need_csize && !need_offset, source, ": zip entry '", e.name,
            "' has 32-bit fields set to 0xffffffff but no ZIP64 extra field");
}

}  // namespace

bool ZipReader::looks_like_zip(const ByteSpan& bytes) {
  return bytes.size >= 4 && bytes.u32(0, "signature") == kLocalSig;
}

ZipReader::ZipReader(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  read_central_directory();
}

void ZipReader::read_central_directory() {
  const ByteSpan all = file_->bytes();
  const std::string& src = file_->path();
  const uint64_t end = find_end_record(all);
  uint64_t count = all.u16(end + 10, "entry count");
  uint64_t cd_size = all.u32(end + 12, "central directory size");
  uint64_t cd_offset = all.u32(end + 16, "central directory offset");
  if (end >= kLocatorSize && all.u32(end - kLocatorSize, "ZIP64 locator") == kLocator64Sig) {
    const uint64_t end64 = all.u64(end - kLocatorSize + 8, "ZIP64 end record offset");
    AFN_CHECK(all.u32(end64, "ZIP64 end record") == kEnd64Sig, src,
              ": the ZIP64 locator points at offset ", end64,
              ", which holds no ZIP64 end record; the file is corrupt");
    count = all.u64(end64 + 32, "ZIP64 entry count");
    cd_size = all.u64(end64 + 40, "ZIP64 central directory size");
    cd_offset = all.u64(end64 + 48, "ZIP64 central directory offset");
  }
  const ByteSpan cd = all.sub(cd_offset, cd_size, "zip central directory");
  AFN_CHECK(count <= cd_size / kCentralSize, src, ": the zip end record claims ", count,
            " entries in a central directory of ", cd_size, " bytes; the file is corrupt");
  entries_.reserve(size_t(count));
  uint64_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    AFN_CHECK(cd.u32(pos, "central directory entry") == kCentralSig, src,
              ": zip central directory entry ", i, " has a bad signature; the file is corrupt");
    ZipEntry e;
    e.flags = cd.u16(pos + 8, "flags");
    e.method = cd.u16(pos + 10, "method");
    e.crc32 = cd.u32(pos + 16, "crc");
    e.compressed_size = cd.u32(pos + 20, "compressed size");
    e.size = cd.u32(pos + 24, "size");
    const uint16_t name_len = cd.u16(pos + 28, "name length");
    const uint16_t extra_len = cd.u16(pos + 30, "extra length");
    const uint16_t comment_len = cd.u16(pos + 32, "comment length");
    uint64_t header_offset = cd.u32(pos + 42, "local header offset");
    e.name = std::string(cd.sub(pos + kCentralSize, name_len, "entry name").view());
    apply_zip64_extra(cd.sub(pos + kCentralSize + name_len, extra_len, "extra field"), e,
                      header_offset, src);
    // The local header's own extra field (torch.save's padding) sets where the data begins.
    AFN_CHECK(all.u32(header_offset, "local header") == kLocalSig, src, ": zip entry '", e.name,
              "' points at offset ", header_offset, ", which holds no local header");
    e.data_offset = header_offset + kLocalSize + all.u16(header_offset + 26, "local name length") +
                    all.u16(header_offset + 28, "local extra length");
    all.sub(e.data_offset, e.compressed_size, "zip entry data");  // bounds check only
    entries_.push_back(std::move(e));
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const ZipEntry& ZipReader::at(const std::string& name) const {
  const ZipEntry* e = find(name);
  AFN_CHECK(e != nullptr, path(), ": the zip archive has no entry '", name, "'");
  return *e;
}

ByteSpan ZipReader::read(const ZipEntry& e, bool check_crc) const {
  AFN_CHECK(!(e.flags & 1), path(), ": zip entry '", e.name, "' is encrypted");
  AFN_CHECK(e.method == 0, path(), ": zip entry '", e.name, "' is compressed (method ", e.method,
            "); torch.save stores entries uncompressed, so the archive was rewritten by another "
            "zip tool: unzip it and zip it again with `zip -0`, or re-save it with torch.save");
  AFN_CHECK(e.size == e.compressed_size, path(), ": stored zip entry '", e.name, "' has size ",
            e.size, " but compressed size ", e.compressed_size, "; the file is corrupt");
  const ByteSpan data = file_->bytes().sub(e.data_offset, e.size, "zip entry data");
  if (check_crc) {
    const uint32_t crc = crc32_of(data.data, data.size);
    AFN_CHECK(crc == e.crc32, path(), ": zip entry '", e.name, "' fails its CRC-32 check (stored ",
              e.crc32, ", computed ", crc, "); the file is corrupt");
  }
  return data;
}

// ---- writer -----------------------------------------------------------------------------------

namespace {
// Little-endian field appender for the records below.
struct Record {
  std::string bytes;
  template <typename T>
  Record& put(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) bytes += char(uint8_t(uint64_t(v) >> (8 * i)));
    return *this;
  }
  Record& put(const std::string& s) {
    bytes += s;
    return *this;
  }
};
constexpr uint16_t kUtf8AndDescriptor = 0x0808;  // flag bits 11 and 3, as torch.save sets them
constexpr uint16_t kZip64Version = 45;
}  // namespace

ZipWriter::ZipWriter(const std::string& path, uint64_t zip64_from)
    : path_(path), zip64_from_(std::min<uint64_t>(zip64_from, kMax32)) {
  file_ = std::fopen(path.c_str(), "wb");
  AFN_CHECK(file_ != nullptr, "cannot create '", path, "': ", std::strerror(errno));
}

ZipWriter::~ZipWriter() {
  if (file_) std::fclose(file_);
}

void ZipWriter::write(const void* data, size_t size) {
  AFN_CHECK(file_ != nullptr, "ZipWriter: ", path_, " is already finished");
  AFN_CHECK(std::fwrite(data, 1, size, file_) == size, "writing '", path_,
            "' failed: ", std::strerror(errno), " (disk full?)");
  offset_ += size;
}

void ZipWriter::add(const std::string& name, const void* data, size_t size) {
  AFN_CHECK(name.size() < kMax16, "ZipWriter: entry name too long: ", name);
  const bool zip64 = size >= zip64_from_;
  // Local header; sizes and CRC go into the data descriptor after the data (flag bit 3).
  Record h;
  h.put(kLocalSig).put(uint16_t(zip64 ? kZip64Version : 0)).put(kUtf8AndDescriptor);
  h.put(uint16_t(0)).put(uint32_t(0)).put(uint32_t(0));  // method stored, time/date, crc
  h.put(zip64 ? kMax32 : 0u).put(zip64 ? kMax32 : 0u);
  Record extra;
  if (zip64) extra.put(kZip64ExtraId).put(uint16_t(16)).put(uint64_t(0)).put(uint64_t(0));
  // Pad with an "FB" field so the data starts on a 64-byte boundary, like torch.save.
  const uint64_t unpadded = offset_ + kLocalSize + name.size() + extra.bytes.size() + 4;
  const size_t pad = size_t((kAlignment - unpadded % kAlignment) % kAlignment);
  extra.put(kPaddingExtraId).put(uint16_t(pad)).put(std::string(pad, 'Z'));
  h.put(uint16_t(name.size())).put(uint16_t(extra.bytes.size())).put(name).put(extra.bytes);
  const uint64_t header_offset = offset_;
  write(h.bytes.data(), h.bytes.size());
  write(data, size);
  const uint32_t crc = crc32_of(static_cast<const uint8_t*>(data), size);
  Record d;
  d.put(kDescriptorSig).put(crc);
  if (zip64) {
    d.put(uint64_t(size)).put(uint64_t(size));
  } else {
    d.put(uint32_t(size)).put(uint32_t(size));
  }
  write(d.bytes.data(), d.bytes.size());
  written_.push_back({name, header_offset, size, crc});
}

void ZipWriter::finish() {
  const uint64_t cd_offset = offset_;
  for (const Written& w : written_) {
    const bool big_size = w.size >= zip64_from_, big_offset = w.header_offset >= zip64_from_;
    Record extra;
    if (big_size || big_offset) {
      extra.put(kZip64ExtraId).put(uint16_t(8 * (2 * big_size + big_offset)));
      if (big_size) extra.put(w.size).put(w.size);
      if (big_offset) extra.put(w.header_offset);
    }
    Record c;
    c.put(kCentralSig).put(uint16_t(0)).put(uint16_t(big_size || big_offset ? kZip64Version : 0));
    c.put(kUtf8AndDescriptor).put(uint16_t(0)).put(uint32_t(0)).put(w.crc32);
    c.put(big_size ? kMax32 : uint32_t(w.size)).put(big_size ? kMax32 : uint32_t(w.size));
    c.put(uint16_t(w.name.size())).put(uint16_t(extra.bytes.size())).put(uint16_t(0));
    c.put(uint16_t(0)).put(uint16_t(0)).put(uint32_t(0));  // disk, internal and external attrs
    c.put(big_offset ? kMax32 : uint32_t(w.header_offset)).put(w.name).put(extra.bytes);
    write(c.bytes.data(), c.bytes.size());
  }
  const uint64_t cd_size = offset_ - cd_offset, end64 = offset_, n = written_.size();
  Record e;
  e.put(kEnd64Sig).put(uint64_t(kEnd64Size - 12)).put(uint16_t(0x031e)).put(kZip64Version);
  e.put(uint32_t(0)).put(uint32_t(0)).put(n).put(n).put(cd_size).put(cd_offset);
  e.put(kLocator64Sig).put(uint32_t(0)).put(end64).put(uint32_t(1));
  e.put(kEndSig).put(uint16_t(0)).put(uint16_t(0));
  e.put(uint16_t(std::min<uint64_t>(n, kMax16))).put(uint16_t(std::min<uint64_t>(n, kMax16)));
  e.put(uint32_t(std::min<uint64_t>(cd_size, kMax32)));
  e.put(uint32_t(std::min<uint64_t>(cd_offset, kMax32))).put(uint16_t(0));
  write(e.bytes.data(), e.bytes.size());
  const int rc = std::fclose(file_);
  file_ = nullptr;
  AFN_CHECK(rc == 0, "closing '", path_, "' failed: ", std::strerror(errno));
}

}  // namespace afinar::io
