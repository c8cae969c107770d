// The two pieces of JSON text afinar writes by hand (JSON lines of `afinar predict`, the training
// event log): string literals and numbers.
#pragma once

#include <string>

namespace afinar::io {

// A JSON string literal: quotes, backslashes and control characters escaped (RFC 8259).
std::string json_string(const std::string& s);
// A number with float32's precision (%.9g); null for NaN and infinities, which JSON cannot hold.
std::string json_number(double v);

}  // namespace afinar::io
