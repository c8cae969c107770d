#include "afinar/core/check.h"

namespace afinar::detail {

void throw_error(const char* expr, const char* file, int line, const std::string& msg) {
  std::ostringstream os;
  os << msg;
  if (expr) os << "\n  check failed: " << expr;
  os << "\n  at " << file << ":" << line;
  throw Error(os.str());
}

}  // namespace afinar::detail
