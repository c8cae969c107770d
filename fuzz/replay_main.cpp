// A standalone main() for the fuzz targets in a normal (non-libFuzzer) build, after libFuzzer's
// StandaloneFuzzTargetMain: runs LLVMFuzzerTestOneInput once on every file named on the command
// line, or on every regular file of a named directory (not recursive). CI replays the seed
// corpora with it (tests/fuzz/corpus_tests.cmake: Fuzz.<Target>Corpus); a target that crashes
// or throws anything but afinar::Error on a file fails the test.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return 1;
  }
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 0, failures = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg)) {
        if (!e.is_regular_file()) continue;
        failures += run_file(e.path());
        ++files;
      }
    } else {
      failures += run_file(arg);
      ++files;
    }
  }
  std::fprintf(stderr, "replay: %d files, %d unreadable\n", files, failures);
  // No input at all is a misconfigured test (a wrong corpus path), not a pass.
  return files == 0 || failures != 0 ? 1 : 0;
}
