// An 8-bit image in memory, row-major H×W×C (PIL's layout): what decoding produces and what the
// geometric and colour transforms work on, as torchvision's PIL path does. ToTensor turns it into
// a float32 [C,H,W] tensor in [0, 1].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "afinar/core/check.h"

namespace afinar::data {

struct Image {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 3;       // 3 (RGB) for decoded images; 1 for grayscale sources kept as such
  std::vector<uint8_t> data;  // height·width·channels bytes

  Image() = default;
  Image(int64_t h, int64_t w, int64_t c = 3, uint8_t fill = 0)
      : height(h), width(w), channels(c), data(size_t(h * w * c), fill) {
    AFN_CHECK(h >= 0 && w >= 0 && c >= 1, "Image: invalid size ", h, "x", w, "x", c);
  }

  bool empty() const { return height == 0 || width == 0; }
  uint8_t* pixel(int64_t y, int64_t x) { return data.data() + (y * width + x) * channels; }
  const uint8_t* pixel(int64_t y, int64_t x) const {
    return data.data() + (y * width + x) * channels;
  }
};

}  // namespace afinar::data
