// Crops: PIL's crop (zeros outside the image), torchvision's center_crop and RandomResizedCrop.
#include "data/transforms/internal.h"

#include <algorithm>
#include <cstring>

namespace afinar::data {

Image crop(const Image& img, const CropBox& box) {
  detail::check_image(img, "crop");
  detail::check_size({box.height, box.width}, "crop", "the crop size");
  const int64_t C = img.channels;
  Image out(box.height, box.width, C);
  // The part of the box inside the image: columns [x0, x1), rows [y0, y1) in image coordinates.
  const int64_t x0 = std::max<int64_t>(box.left, 0);
  const int64_t x1 = std::min(box.left + box.width, img.width);
  const int64_t y0 = std::max<int64_t>(box.top, 0);
  const int64_t y1 = std::min(box.top + box.height, img.height);
  for (int64_t y = y0; y < y1 && x0 < x1; ++y) {
    std::memcpy(out.pixel(y - box.top, x0 - box.left), img.pixel(y, x0), size_t((x1 - x0) * C));
  }
  return out;
}

Image center_crop(const Image& img, ImageSize size) {
  detail::check_size(size, "center_crop", "size");
  // torchvision pads a too-small side with (crop - image) // 2 zeros before (and the rest after),
  // then crops at round((padded - crop) / 2) = 0: the same pixels as a crop starting at minus the
  // leading padding, which crop() fills with zeros.
  auto offset = [](int64_t image, int64_t crop) {
    return crop > image ? -((crop - image) / 2) : detail::py_round(double(image - crop) / 2.0);
  };
  return crop(img, {offset(img.height, size.height), offset(img.width, size.width), size.height,
                    size.width});
}

CenterCrop::CenterCrop(ImageSize size) : size_(size) {
  detail::check_size(size, "CenterCrop", "size");
}

RandomResizedCrop::RandomResizedCrop(ImageSize size, Options opt) : size_(size), opt_(opt) {
  detail::check_size(size, "RandomResizedCrop", "size");
  detail::check_range(opt.scale, "RandomResizedCrop", "scale");
  detail::check_range(opt.ratio, "RandomResizedCrop", "ratio");
  AFN_CHECK(opt.scale[0] > 0, "RandomResizedCrop: scale must be positive, got (", opt.scale[0],
            ", ", opt.scale[1], ")");
  AFN_CHECK(opt.ratio[0] > 0, "RandomResizedCrop: ratio must be positive, got (", opt.ratio[0],
            ", ", opt.ratio[1], ")");
}

CropBox RandomResizedCrop::get_params(ImageSize in, std::array<double, 2> scale,
                                      std::array<double, 2> ratio, Generator& gen) {
  const double area = double(in.height * in.width);
  const double log_r0 = std::log(ratio[0]), log_r1 = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * draw_uniform(gen, scale[0], scale[1]);
    const double aspect = std::exp(draw_uniform(gen, log_r0, log_r1));
    const int64_t w = detail::py_round(std::sqrt(target_area * aspect));
    const int64_t h = detail::py_round(std::sqrt(target_area / aspect));
    if (0 < w && w <= in.width && 0 < h && h <= in.height) {
      const int64_t top = draw_int(gen, 0, in.height - h + 1);
      const int64_t left = draw_int(gen, 0, in.width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the central crop, its aspect ratio clamped to the range.
  const double in_ratio = double(in.width) / double(in.height);
  int64_t w = in.width, h = in.height;
  if (in_ratio < std::min(ratio[0], ratio[1])) {
    h = detail::py_round(double(w) / std::min(ratio[0], ratio[1]));
  } else if (in_ratio > std::max(ratio[0], ratio[1])) {
    w = detail::py_round(double(h) * std::max(ratio[0], ratio[1]));
  }
  return {(in.height - h) / 2, (in.width - w) / 2, h, w};
}

Image RandomResizedCrop::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, "RandomResizedCrop");
  const CropBox box = get_params({img.height, img.width}, opt_.scale, opt_.ratio, gen);
  return resized_crop(img, box, size_, opt_.interpolation);
}

}  // namespace afinar::data
