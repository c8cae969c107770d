// Reading files a test produced: the whole text, or its lines.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace afinar::testing {

// The file's bytes; "" when it cannot be opened (the comparison that follows then fails).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file's lines without their '\n'.
inline std::vector<std::string> lines_of(const std::string& path) {
  std::istringstream in(read_text(path));
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace afinar::testing
