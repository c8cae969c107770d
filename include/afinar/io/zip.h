// The zip subset torch.save writes (FORMATS.md "torch.save containers"), read from a memory
// mapping and written for the exporter.
//
// Reading: the end-of-central-directory record (ZIP64 record and locator when present), then the
// central directory, which holds the sizes (torch.save sets flag bit 3, so the local headers carry
// zeros). An entry's data starts at local header offset + 30 + name length + extra length, read
// from the LOCAL header (its extra field pads the data to 64 bytes and differs from the central
// one). Every offset and length is bounds-checked; compressed or encrypted entries are refused
// naming the entry. CRC-32 is checked when an entry is read.
//
//   ZipReader zip(MappedFile::open("resnet18-f37072fd.pth"));
//   for (const ZipEntry& e : zip.entries()) ...;
//   ByteSpan pkl = zip.read(zip.at("resnet18/data.pkl"));
//
// Writing: what torch.save produces: stored entries, data 64-byte aligned through a "FB" padding
// extra field, CRC-32 (zlib), a data descriptor after each entry, a ZIP64 end record and
// locator. Entries larger than 4 GiB get ZIP64 sizes.
//
//   ZipWriter w("out.pth.tmp");
//   w.add("out/data.pkl", pickle_bytes.data(), pickle_bytes.size());
//   w.finish();
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "afinar/io/mapped_file.h"

namespace afinar::io {

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // first byte of the (stored) data in the file
  uint64_t size = 0;         // uncompressed size
  uint64_t compressed_size = 0;
  uint32_t crc32 = 0;
  uint16_t method = 0;  // 0 = stored
  uint16_t flags = 0;
};

class ZipReader {
 public:
  explicit ZipReader(std::shared_ptr<const MappedFile> file);

  // True when the bytes start like a zip archive (a local file header).
  static bool looks_like_zip(const ByteSpan& bytes);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry named `name`, or nullptr.
  const ZipEntry* find(const std::string& name) const;
  // The entry named `name`; throws an error naming it and the archive when absent.
  const ZipEntry& at(const std::string& name) const;
  // The entry's bytes inside the mapping, after checking it is stored (not compressed) and, when
  // `check_crc`, that its CRC-32 matches the central directory's.
  ByteSpan read(const ZipEntry& entry, bool check_crc = true) const;
  const std::string& path() const { return file_->path(); }

 private:
  void read_central_directory();
  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipEntry> entries_;
};

class ZipWriter {
 public:
  // Creates (truncates) `path`. Sizes and offsets at or above `zip64_from` are written as ZIP64
  // fields (the zip limit is 0xffffffff; tests lower it to exercise the ZIP64 records).
  explicit ZipWriter(const std::string& path, uint64_t zip64_from = 0xffffffff);
  ~ZipWriter();  // closes the file; an unfinished archive is left incomplete for the caller to
                 // delete
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  // Appends a stored entry whose data starts at a multiple of 64 bytes.
  void add(const std::string& name, const void* data, size_t size);
  // Writes the central directory and the end records, and closes the file.
  void finish();

 private:
  struct Written {
    std::string name;
    uint64_t header_offset, size;
    uint32_t crc32;
  };
  void write(const void* data, size_t size);
  std::string path_;
  uint64_t zip64_from_;
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  std::vector<Written> written_;
};

}  // namespace afinar::io
