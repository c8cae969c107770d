#pragma once

namespace afinar::cli {
inline constexpr const char* kVersion = "afinar 0.1.0";
}
