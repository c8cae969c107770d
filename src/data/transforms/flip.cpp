// Flips: PIL's FLIP_LEFT_RIGHT / FLIP_TOP_BOTTOM, a tensor flip of the last dimension, and
// RandomHorizontalFlip.
#include "data/transforms/internal.h"

#include <cstring>

namespace afinar::data {

Image hflip(const Image& img) {
  detail::check_image(img, "hflip");
  const int64_t C = img.channels;
  Image out(img.height, img.width, C);
  for (int64_t y = 0; y < img.height; ++y) {
    const uint8_t* in = img.pixel(y, 0);
    uint8_t* o = out.pixel(y, img.width - 1);
    for (int64_t x = 0; x < img.width; ++x, in += C, o -= C) detail::copy_pixel(o, in, C);
  }
  return out;
}

Image vflip(const Image& img) {
  detail::check_image(img, "vflip");
  Image out(img.height, img.width, img.channels);
  const size_t row = size_t(img.width * img.channels);
  for (int64_t y = 0; y < img.height; ++y) {
    std::memcpy(out.pixel(img.height - 1 - y, 0), img.pixel(y, 0), row);
  }
  return out;
}

Tensor hflip(const Tensor& img) {
  AFN_CHECK(img.defined() && img.dim() >= 2, "hflip: expected a tensor image [..., H, W], got ",
            img.defined() ? img.shape() : Shape{});
  AFN_CHECK(img.device() == kCPU, "hflip: tensor images are flipped on the CPU, got ",
            img.device());
  const int64_t W = img.size(-1);
  // Views have no negative strides, so the flip copies, element by element of any dtype.
  Tensor src = img.contiguous();
  Tensor out = empty(img.shape(), img.dtype());
  const size_t esize = element_size(img.dtype());
  const int64_t rows = W == 0 ? 0 : img.numel() / W;
  const auto* in = static_cast<const uint8_t*>(src.raw_data());
  auto* o = static_cast<uint8_t*>(out.raw_data());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t x = 0; x < W; ++x) {
      std::memcpy(o + size_t(r * W + W - 1 - x) * esize, in + size_t(r * W + x) * esize, esize);
    }
  }
  return out;
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  detail::check_probability(p, "RandomHorizontalFlip");
}

Image RandomHorizontalFlip::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, "RandomHorizontalFlip");
  return detail::draw_bernoulli(gen, p_) ? hflip(img) : img;
}

}  // namespace afinar::data
