// Argument checks, Python's rounding and the random draws shared by the transforms.
#include "data/transforms/internal.h"

#include <cstdio>
#include <cstdlib>

#include "afinar/core/philox.h"

namespace afinar::data::detail {

void check_image(const Image& img, const char* op) {
  AFN_CHECK(img.height > 0 && img.width > 0, op, ": the image is empty (", img.height, "x",
            img.width, ")");
  AFN_CHECK(img.channels == 1 || img.channels == 3, op,
            ": images must have 1 (L) or 3 (RGB) channels, got ", img.channels);
  AFN_CHECK(img.data.size() == size_t(img.height * img.width * img.channels), op,
            ": the image holds ", img.data.size(), " bytes but is ", img.height, "x", img.width,
            "x", img.channels);
}

void check_size(ImageSize size, const char* op, const char* arg) {
  AFN_CHECK(size.height > 0 && size.width > 0, op, ": ", arg, " must be positive, got (",
            size.height, ", ", size.width, ")");
}

void check_range(std::array<double, 2> r, const char* op, const char* arg) {
  AFN_CHECK(r[0] <= r[1], op, ": ", arg, " must be a (min, max) range, got (", r[0], ", ", r[1],
            ")");
}

void check_probability(double p, const char* op) {
  AFN_CHECK(p >= 0.0 && p <= 1.0, op, ": probability p must be in [0, 1], got ", p);
}

std::vector<uint8_t> fill_per_channel(const std::vector<uint8_t>& fill, int64_t channels,
                                      const char* op) {
  AFN_CHECK(fill.size() == 1 || int64_t(fill.size()) == channels, op, ": fill has ", fill.size(),
            " values but the image has ", channels, " channels (give 1 or ", channels, ")");
  return fill.size() == 1 ? std::vector<uint8_t>(size_t(channels), fill[0]) : fill;
}

double py_round(double x, int digits) {
  // glibc's printf rounds the exact binary value correctly (ties to even), like CPython's dtoa.
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return std::strtod(buf, nullptr);
}

double py_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r != 0.0) {
    if ((m < 0) != (r < 0)) r += m;
  } else {
    r = std::copysign(0.0, m);
  }
  return r;
}

}  // namespace afinar::data::detail
