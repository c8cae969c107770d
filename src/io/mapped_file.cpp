// Read-only file mappings and bounds-checked byte spans (see include/afinar/io/mapped_file.h).
#include "afinar/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "afinar/core/check.h"

namespace afinar::io {

namespace {
std::string source_of(const ByteSpan& s) {
  return s.source ? *s.source : std::string("<memory>");
}

// Little-endian load of N bytes; files written by torch.save and zip tools are little-endian.
template <typename T>
T load_le(const ByteSpan& s, uint64_t offset, const char* what) {
  const ByteSpan b = s.sub(offset, sizeof(T), what);
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= T(b.data[i]) << (8 * i);
  return v;
}
}  // namespace

ByteSpan ByteSpan::sub(uint64_t offset, uint64_t length, const char* what) const {
  // Written as two comparisons so that offset + length cannot overflow.
  AFN_CHECK(offset <= size && length <= size - offset, source_of(*this), ": ", what,
            " lies outside the file (bytes [", offset, ", ", offset, " + ", length,
            ") of a span of ", size, "); the file is truncated or corrupt");
  return {data + offset, size_t(length), source};
}

uint16_t ByteSpan::u16(uint64_t offset, const char* what) const {
  return load_le<uint16_t>(*this, offset, what);
}
uint32_t ByteSpan::u32(uint64_t offset, const char* what) const {
  return load_le<uint32_t>(*this, offset, what);
}
uint64_t ByteSpan::u64(uint64_t offset, const char* what) const {
  return load_le<uint64_t>(*this, offset, what);
}

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  AFN_CHECK(fd >= 0, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    AFN_FAIL("'", path, "' is not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    AFN_FAIL("'", path, "' is empty");
  }
  void* p = ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file open
  AFN_CHECK(p != MAP_FAILED, "cannot map '", path, "': ", std::strerror(map_errno));
  // Weight files are read front to back once: let the kernel read ahead aggressively.
  ::madvise(p, size_t(st.st_size), MADV_SEQUENTIAL);
  return std::shared_ptr<const MappedFile>(
      new MappedFile(path, static_cast<const uint8_t*>(p), size_t(st.st_size)));
}

MappedFile::~MappedFile() {
  ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace afinar::io
