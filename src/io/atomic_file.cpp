// All-or-nothing, durable file output through a temporary name (see
// include/afinar/io/atomic_file.h).
#include "afinar/io/atomic_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "afinar/core/check.h"

namespace afinar::io {

namespace fs = std::filesystem;

AtomicFile::AtomicFile(std::string destination) : destination_(std::move(destination)) {
  temp_ = destination_ + ".tmp-XXXXXX";
  const int fd = mkstemp(temp_.data());
  AFN_CHECK(fd >= 0, "cannot create '", temp_, "' to write ", destination_, ": ",
            std::strerror(errno), " (does the folder exist and is it writable?)");
  // mkstemp makes the file private (0600); give it the permissions a plain open() would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  ::close(fd);
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_.c_str());
}

std::string parent_folder(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void sync_path(const std::string& path) {
  // O_RDONLY is enough: fsync flushes the file's (or folder's) data and metadata whatever the
  // descriptor's access mode.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  AFN_CHECK(fd >= 0, "cannot open '", path, "' to flush it to the disk: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  AFN_CHECK(rc == 0, "cannot flush '", path, "' to the disk: ", std::strerror(err),
            " (is the disk full or failing?)");
}

void AtomicFile::commit() {
  AFN_CHECK(!committed_, "AtomicFile: ", destination_, " committed twice");
  sync_path(temp_);
  AFN_CHECK(std::rename(temp_.c_str(), destination_.c_str()) == 0, "cannot rename '", temp_,
            "' to '", destination_, "': ", std::strerror(errno));
  committed_ = true;
  sync_path(parent_folder(destination_));
}

int remove_stale_temporaries(const std::string& destination) {
  const fs::path dst(destination);
  const std::string prefix = dst.filename().string() + ".tmp-";
  std::error_code ec;
  int removed = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(parent_folder(destination), ec))
    if (e.path().filename().string().starts_with(prefix) && fs::remove(e.path(), ec)) ++removed;
  return removed;
}

}  // namespace afinar::io
