// The temp file of fuzz_target.h.
#include "fuzz_target.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace afinar::fuzz {

const std::string& write_temp_file(const uint8_t* data, size_t size, const char* suffix) {
  static std::string path;
  if (path.empty()) {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir && *dir ? dir : "/tmp") + "/afinar-fuzz-" + std::to_string(getpid()) +
           suffix;
  }
  // Not afinar::Error: a harness that cannot write its input must stop, not pass silently.
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("fuzz: cannot create " + path);
  const bool ok = std::fwrite(data, 1, size, f) == size;
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("fuzz: cannot write " + path);
  return path;
}

}  // namespace afinar::fuzz
