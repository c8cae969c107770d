// All-or-nothing file output through a temporary name (see include/afinar/io/atomic_file.h).
#include "afinar/io/atomic_file.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "afinar/core/check.h"

namespace afinar::io {

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

void AtomicFile::commit() {
  AFN_CHECK(!committed_, "AtomicFile: ", destination_, " committed twice");
  AFN_CHECK(std::rename(temp_.c_str(), destination_.c_str()) == 0, "cannot rename '", temp_,
            "' to '", destination_, "': ", std::strerror(errno));
  committed_ = true;
}

}  // namespace afinar::io
