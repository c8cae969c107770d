// Fuzz target: the zip reader (io/zip.h) on a file: the central directory, ZIP64 records, every
// entry's local header and (stored) data with its CRC-32.
#include "afinar/io/zip.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return afinar::fuzz::expect_error_or_success([&] {
    using namespace afinar::io;
    ZipReader zip(MappedFile::open(afinar::fuzz::write_temp_file(data, size, ".zip")));
    for (const ZipEntry& e : zip.entries()) {
      // Each entry separately: one refused entry must not hide a crash in the next.
      afinar::fuzz::expect_error_or_success([&] { zip.read(e); });
    }
  });
}
