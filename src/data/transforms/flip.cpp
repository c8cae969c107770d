// Flips: PIL's FLIP_LEFT_RIGHT / FLIP_TOP_BOTTOM, a tensor flip of the last dimension, and
// RandomHorizontalFlip / RandomVerticalFlip.
#include "data/transforms/internal.h"

#include "afinar/ops/flip.h"

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
  return ops::flip(img, {-1});  // any dtype, any device (include/afinar/ops/flip.h)
}

namespace {
template <bool Vertical>
constexpr const char* kFlipName = Vertical ? "RandomVerticalFlip" : "RandomHorizontalFlip";
}  // namespace

template <bool Vertical>
RandomFlip<Vertical>::RandomFlip(double p) : p_(p) {
  detail::check_probability(p, kFlipName<Vertical>);
}

template <bool Vertical>
Image RandomFlip<Vertical>::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, kFlipName<Vertical>);
  if (!draw_bernoulli(gen, p_)) return img;
  return Vertical ? vflip(img) : hflip(img);
}

template class RandomFlip<false>;
template class RandomFlip<true>;

}  // namespace afinar::data
