// The message of the afinar::Error a call throws, for tests that check what an error says.
#pragma once

#include <functional>
#include <string>

#include "afinar/core/check.h"

namespace afinar::testing {

// e.what() of the afinar::Error `fn` throws; empty when it throws nothing.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace afinar::testing
