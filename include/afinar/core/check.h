// Error handling: every failure in afinar throws afinar::Error with the failed expression, the
// file and line, and a message a user can act on. exit()/abort() appear nowhere outside main().
//
//   AFN_CHECK(x.dim() == 4, "conv2d: input must be 4-D [N,C,H,W], got shape ", x.shape());
//
// The message arguments are streamed with operator<<, so shapes, dtypes and numbers print as is.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace afinar {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The first line of an error's text: its message without the "check failed" and location lines
// throw_error appends. For a one-line log entry, or a message that quotes another error.
inline std::string error_summary(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void throw_error(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace detail
}  // namespace afinar

#define AFN_CHECK(cond, ...)                                                \
  do {                                                                      \
    if (!(cond)) [[unlikely]]                                               \
      ::afinar::detail::throw_error(#cond, __FILE__, __LINE__,              \
                                    ::afinar::detail::concat(__VA_ARGS__)); \
  } while (0)

// An unconditional failure with the same location information.
#define AFN_FAIL(...) \
  ::afinar::detail::throw_error(nullptr, __FILE__, __LINE__, ::afinar::detail::concat(__VA_ARGS__))
