// Helpers for the tests that check afinar's files against PyTorch itself: Python scripts through
// /usr/bin/python3 when it has torch, torchvision and h5py (SKIP_WITHOUT_TORCH() skips with the
// reason otherwise); commands and the afinar executable through testing/cli.h.
//
//   SKIP_WITHOUT_TORCH();
//   const Result r = python(dir, "import sys, torch; ...", dir / "out.pth");
//   EXPECT_EQ(r.code, 0) << r.output;
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "testing/cli.h"
#include "testing/temp_dir.h"

namespace afinar::testing {

inline bool torch_available() {
  static const bool ok = run("/usr/bin/python3 -c 'import torch, torchvision, h5py'").code == 0;
  return ok;
}

#define SKIP_WITHOUT_TORCH()                                                                  \
  if (!::afinar::testing::torch_available())                                                  \
  GTEST_SKIP() << "needs /usr/bin/python3 with torch, torchvision and h5py (Debian packages " \
                  "python3-torch, python3-torchvision, python3-h5py)"

// Runs a Python script (written to `dir`) with arguments; its exit code and output.
inline Result python(const TempDir& dir, const std::string& script, const std::string& args) {
  const std::string path = dir / "check.py";
  std::ofstream(path) << script;
  return run("/usr/bin/python3 " + path + " " + args);
}

inline bool contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

}  // namespace afinar::testing
