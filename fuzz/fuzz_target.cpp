// The temp file of fuzz_target.h.
#include "fuzz_target.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace afinar::fuzz {

namespace {
// The per-process file, removed when the process exits normally (the corpus replays of every
// ctest run); a crash leaves it, and libFuzzer has saved the input anyway.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};
}  // namespace

const std::string& write_temp_file(const uint8_t* data, size_t size, const char* suffix) {
  static TempFile file;
  std::string& path = file.path;
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
