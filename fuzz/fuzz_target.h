// Shared by every fuzz target (fuzz/*_fuzz.cpp): the one rule a target enforces and the temp
// file that targets of file-based readers write their input to.
//
// The rule: a parser fed arbitrary bytes either succeeds or throws afinar::Error. Anything else
// (another exception type, a crash, a sanitizer report, an allocation over libFuzzer's
// -malloc_limit_mb) is a finding. So a target catches afinar::Error only; any other exception
// escapes LLVMFuzzerTestOneInput, which libFuzzer (and fuzz/replay_main.cpp) report as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "afinar/core/check.h"

namespace afinar::fuzz {

// Runs `parse`, swallowing afinar::Error (the expected way to refuse bad input).
template <class F>
int expect_error_or_success(F&& parse) {
  try {
    parse();
  } catch (const afinar::Error&) {
  }
  return 0;  // libFuzzer: values other than 0 and -1 are reserved
}

// Writes `data` to a per-process file under $TMPDIR (or /tmp) and returns its path; the same
// file is overwritten on every call and removed at a normal exit.
const std::string& write_temp_file(const uint8_t* data, size_t size, const char* suffix);

}  // namespace afinar::fuzz
