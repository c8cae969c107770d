// A read-only memory mapping of a whole file, for the readers of large weight files (zip, legacy
// torch.save, SHA-256): the bytes are read on demand by the kernel, never copied whole into
// memory, and a tensor that is already in afinar's layout can be written out straight from the
// mapping.
//
//   auto file = MappedFile::open("vgg16-397923af.pth");
//   ByteSpan all = file->bytes();                      // [data, data + size)
//   ByteSpan part = file->bytes().sub(offset, size, "storage 3");  // bounds-checked
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace afinar::io {

// A bounds-checked view of bytes. `sub` and the little-endian readers throw afinar::Error naming
// `what` and the source when a range leaves the span, so no reader can index past a file's end.
struct ByteSpan {
  const uint8_t* data = nullptr;
  size_t size = 0;
  const std::string* source = nullptr;  // the file it comes from, for error messages

  ByteSpan sub(uint64_t offset, uint64_t length, const char* what) const;
  uint16_t u16(uint64_t offset, const char* what) const;
  uint32_t u32(uint64_t offset, const char* what) const;
  uint64_t u64(uint64_t offset, const char* what) const;
  std::string_view view() const { return {reinterpret_cast<const char*>(data), size}; }
};

class MappedFile {
 public:
  // Maps `path` read-only; an empty, missing or unreadable file throws afinar::Error.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  size_t size() const { return size_; }
  ByteSpan bytes() const { return {data_, size_, &path_}; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace afinar::io
