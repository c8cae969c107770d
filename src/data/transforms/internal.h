// Private helpers of the image transforms (src/data/transforms/*.cpp): argument checks, Python's
// rounding rules, and the random draws every random transform makes from its Generator.
#pragma once

// Pillow and CPython are built for plain x86-64, where a·b + c is two rounded operations; with
// -march=native the compiler would fuse it into one FMA and shift pixels that sit on a rounding
// boundary. The transforms' files are compiled with -ffp-contract=off (CMakeLists.txt), so each
// float expression rounds exactly as in Pillow's C code and torchvision's Python; where torch's
// own kernels fuse, the code says so with std::fma. The byte-exact goldens fail if the flag is
// lost.

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "afinar/core/rng.h"
#include "afinar/data/image.h"
#include "afinar/data/transforms.h"

namespace afinar::data::detail {

// The image is non-empty, has 1 or 3 channels and holds height·width·channels bytes.
void check_image(const Image& img, const char* op);
void check_size(ImageSize size, const char* op, const char* arg);            // both sides > 0
void check_range(std::array<double, 2> r, const char* op, const char* arg);  // min <= max
void check_probability(double p, const char* op);
// A colour adjustment's factor: finite and >= 0 ("op: arg must be a finite non-negative number").
void check_factor(double factor, const char* op, const char* arg);
// PIL's ImageFilter.SMOOTH, which is also torchvision's tensor-path blur for sharpness: the 3×3
// kernel [1 1 1; 1 5 1; 1 1 1] / 13 on every channel, rounded to the nearest byte; the border
// rows and columns (and an image smaller than the kernel) copied unchanged (color_jitter.cpp).
Image smooth_filter(const Image& img);
// One fill byte per channel from a fill of 1 or `channels` values.
std::vector<uint8_t> fill_per_channel(const std::vector<uint8_t>& fill, int64_t channels,
                                      const char* op);

// Python's round() to an integer: halves go to the even neighbour (round(2.5) == 2).
inline int64_t py_round(double x) {
  return int64_t(std::nearbyint(x));
}
// Python's round(x, digits): the nearest decimal with `digits` fractional digits (correctly
// rounded, as CPython's dtoa does), read back as a double.
double py_round(double x, int digits);
// Python's float modulo: the result has the sign of m (-30.0 % 360.0 == 330.0).
double py_mod(double x, double m);
// math.radians: x · (π / 180).
inline double radians(double degrees) {
  return degrees * (3.14159265358979323846 / 180.0);
}

// Copies one pixel of 1 or 3 bytes: a branch the predictor learns, cheaper than a memcpy call of
// a runtime size in the per-pixel loops.
inline void copy_pixel(uint8_t* dst, const uint8_t* src, int64_t channels) {
  dst[0] = src[0];
  if (channels == 3) {
    dst[1] = src[1];
    dst[2] = src[2];
  }
}

// A read-only window of an image: rows of `row_stride` bytes starting at `data`.
struct ImageView {
  const uint8_t* data;
  int64_t height, width, channels, row_stride;
  const uint8_t* row(int64_t y) const { return data + y * row_stride; }
};
inline ImageView view_of(const Image& img) {
  return {img.data.data(), img.height, img.width, img.channels, img.width * img.channels};
}
// Pillow's resize of a whole view to `out` (Image.resize without a box), resize.cpp. With a
// window, only that part of the output is computed (the same bytes: each output pixel depends on
// its own weights and positions alone).
Image resample(const ImageView& src, ImageSize out, Interpolation interpolation,
               std::optional<CropBox> window = {});
// resize(img, out) then center_crop(crop_size), computing only the pixels the crop keeps.
Image resize_center_crop(const Image& img, ImageSize out, ImageSize crop_size,
                         Interpolation interpolation);

// ToTensor through a table: y[c, h, w] = table[c·256 + x[h, w', c]] with w' = w, or W - 1 - w
// when `mirrored` (the image flipped left-right on the way). With table[c·256 + v] =
// float(v) / 255 (to_tensor_table) this is to_tensor; with that table sent through Normalize it
// is to_tensor then normalize, value for value, as normalize is elementwise per channel.
Tensor image_to_tensor(const Image& img, const float* table, bool mirrored);
// The table of to_tensor for `channels` channels (each channel's 256 entries the same).
std::vector<float> to_tensor_table(int64_t channels);

}  // namespace afinar::data::detail
