// PyTorch's int-or-tuple arguments for the two spatial dimensions: `kernel_size=3` or
// `kernel_size=(3, 5)`. One value stands for both dimensions ({.stride = 2}); two are
// {height, width} ({.padding = {1, 0}}).
#pragma once

#include <array>
#include <cstdint>
#include <ostream>

namespace afinar {

struct IntPair {
  int64_t h = 0, w = 0;

  constexpr IntPair() = default;
  constexpr IntPair(int64_t both) : h(both), w(both) {}  // implicit, as PyTorch's int
  constexpr IntPair(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  constexpr IntPair(const std::array<int64_t, 2>& hw) : h(hw[0]), w(hw[1]) {}

  // [0] is the height, [1] the width.
  constexpr int64_t operator[](size_t i) const { return i == 0 ? h : w; }
  constexpr int64_t& operator[](size_t i) { return i == 0 ? h : w; }
  friend constexpr bool operator==(const IntPair&, const IntPair&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const IntPair& p) {
  return os << "(" << p.h << ", " << p.w << ")";
}

}  // namespace afinar
