// A fresh directory under the system temp folder for one test, removed with everything in it when
// the object goes out of scope.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "afinar/core/check.h"

namespace afinar::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "afinar_test_XXXXXX").string();
    AFN_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp failed for ", pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace afinar::testing
