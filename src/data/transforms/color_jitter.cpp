// Colour and sharpness adjustments as torchvision's PIL path computes them (PIL.ImageEnhance
// over libImaging/Blend.c, Filter.c and Convert.c), and ColorJitter.
//
// Brightness, contrast and saturation are ImagingBlend(degenerate, img, f): per byte,
// out = d + f·(x - d) in float32 (f rounded to float), truncated to 8 bits, clamped to [0, 255]
// when f > 1. The degenerate image d is black (brightness), the grey level
// int(mean(L) + 0.5) (contrast) or the pixel's own grey level L (saturation), with PIL's
// L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. Hue converts to PIL's 8-bit HSV (float math as
// in Convert.c), adds uint8(hue_factor·255) to H modulo 256, and converts back. Sharpness blends
// with the image smoothed by PIL's SMOOTH filter (smooth_filter below).
#include "data/transforms/internal.h"

#include <algorithm>
#include <utility>

namespace afinar::data {
namespace {

inline uint8_t luma(const uint8_t* rgb) {
  return uint8_t((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
}

inline uint8_t clip8(int v) {
  return uint8_t(std::clamp(v, 0, 255));
}

// ImagingBlend(degenerate, img, factor) per byte, in float: d + alpha·(x - d), truncated; when
// alpha is outside [0, 1] the result can leave [0, 255] and is clamped first. degenerate(p, c) is
// the degenerate image's byte at pixel p, channel c.
template <int C, typename Degenerate>
void blend_pixels(const uint8_t* in, uint8_t* out, int64_t pixels, float alpha,
                  Degenerate degenerate) {
  if (alpha >= 0 && alpha <= 1.0) {
    for (int64_t p = 0; p < pixels; ++p) {
      for (int c = 0; c < C; ++c) {
        const int d = degenerate(p, c);
        out[p * C + c] = uint8_t(float(d) + alpha * float(int(in[p * C + c]) - d));
      }
    }
  } else {
    for (int64_t p = 0; p < pixels; ++p) {
      for (int c = 0; c < C; ++c) {
        const int d = degenerate(p, c);
        const float v = float(d) + alpha * float(int(in[p * C + c]) - d);
        out[p * C + c] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : uint8_t(v);
      }
    }
  }
}

template <typename Degenerate>
Image blend(const Image& img, double factor, Degenerate degenerate) {
  const float alpha = float(factor);  // Pillow's ImagingBlend takes a C float
  Image out(img.height, img.width, img.channels);
  const int64_t pixels = img.height * img.width;
  if (img.channels == 3) {
    blend_pixels<3>(img.data.data(), out.data.data(), pixels, alpha, degenerate);
  } else {
    blend_pixels<1>(img.data.data(), out.data.data(), pixels, alpha, degenerate);
  }
  return out;
}

// Convert.c's rgb2hsv_row: h, s in 0..255 from float arithmetic (mixing float and double as the
// C code does), v = max(r, g, b).
void rgb_to_hsv(const uint8_t* in, uint8_t* out) {
  const uint8_t r = in[0], g = in[1], b = in[2];
  const uint8_t maxc = std::max({r, g, b}), minc = std::min({r, g, b});
  uint8_t uh = 0, us = 0;
  if (minc != maxc) {
    const float cr = float(maxc - minc);
    const float s = cr / float(maxc);
    const float rc = float(maxc - r) / cr, gc = float(maxc - g) / cr, bc = float(maxc - b) / cr;
    float h;
    if (r == maxc) {
      h = bc - gc;
    } else if (g == maxc) {
      h = float(2.0 + rc - bc);
    } else {
      h = float(4.0 + gc - rc);
    }
    // fmod(h/6 + 1, 1): h is in [-1, 5], so h/6 + 1 is in [5/6, 11/6] and the remainder is the
    // value itself or the value - 1, both exact, without fmod's slow general path.
    const double wrapped = h / 6.0 + 1.0;
    h = float(wrapped >= 1.0 ? wrapped - 1.0 : wrapped);
    uh = clip8(int(h * 255.0));
    us = clip8(int(s * 255.0));
  }
  out[0] = uh;
  out[1] = us;
  out[2] = maxc;
}

// hsv2rgb's terms that depend on one byte: the hue sector i = floor(6h/255) and its fraction f,
// and the saturation fs = s/255, computed once with the C code's float/double mix.
struct HsvTables {
  std::array<int, 256> sector;
  std::array<float, 256> frac, sat;
  HsvTables() {
    for (int b = 0; b < 256; ++b) {
      sector[size_t(b)] = int(std::floor(float(b) * 6.0 / 255.0));
      frac[size_t(b)] = float(float(b) * 6.0 / 255.0 - float(sector[size_t(b)]));
      sat[size_t(b)] = float(float(b) / 255.0);
    }
  }
};

// C's round() (half away from zero) of x >= 0, inline: the fractional part x - trunc(x) is exact.
inline int round_nonnegative(double x) {
  const double t = std::trunc(x);
  return int(t) + (x - t >= 0.5);
}

// Convert.c's hsv2rgb.
void hsv_to_rgb(const uint8_t* in, uint8_t* out, const HsvTables& t) {
  const uint8_t h = in[0], s = in[1], v = in[2];
  if (s == 0) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  const float f = t.frac[h], fs = t.sat[s];
  const uint8_t p = clip8(round_nonnegative(float(v) * (1.0 - fs)));
  const uint8_t q = clip8(round_nonnegative(float(v) * (1.0 - fs * f)));
  const uint8_t u = clip8(round_nonnegative(float(v) * (1.0 - fs * (1.0 - f))));
  const auto set = [out](uint8_t r, uint8_t g, uint8_t b) { out[0] = r, out[1] = g, out[2] = b; };
  switch (t.sector[h] % 6) {
    case 0:
      set(v, u, p);
      break;
    case 1:
      set(q, v, p);
      break;
    case 2:
      set(p, v, u);
      break;
    case 3:
      set(p, q, v);
      break;
    case 4:
      set(u, p, v);
      break;
    default:
      set(v, p, q);
      break;
  }
}

}  // namespace

namespace detail {

// PIL's ImageFilter.SMOOTH, ImageEnhance.Sharpness's degenerate image: the 3×3 kernel
// [1 1 1; 1 5 1; 1 1 1] / 13 on every channel, rounded to the nearest byte (Filter.c's clip8;
// an integer sum S over 13 never ends in .5, so round(S / 13) = (2S + 13) / 26 exactly); the
// border rows and columns are copied unchanged, as ImagingFilter3x3 does, and so is an image
// smaller than the kernel.
Image smooth_filter(const Image& img) {
  Image out = img;
  if (img.height < 3 || img.width < 3) return out;
  const int64_t C = img.channels, row = img.width * C;
  for (int64_t y = 1; y + 1 < img.height; ++y) {
    const uint8_t* mid = img.data.data() + y * row;
    uint8_t* dst = out.data.data() + y * row;
    for (int64_t i = C; i < row - C; ++i) {
      const int ring = mid[i - row - C] + mid[i - row] + mid[i - row + C] + mid[i - C] +
                       mid[i + C] + mid[i + row - C] + mid[i + row] + mid[i + row + C];
      const int sum = ring + 5 * mid[i];
      dst[i] = uint8_t((2 * sum + 13) / 26);
    }
  }
  return out;
}

void check_factor(double factor, const char* op, const char* arg) {
  AFN_CHECK(factor >= 0 && std::isfinite(factor), op, ": ", arg,
            " must be a finite non-negative number, got ", factor);
}

}  // namespace detail

Image to_grayscale(const Image& img) {
  detail::check_image(img, "to_grayscale");
  if (img.channels == 1) return img;
  Image out(img.height, img.width, 1);
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = luma(&img.data[3 * i]);
  return out;
}

Image adjust_brightness(const Image& img, double factor) {
  detail::check_image(img, "adjust_brightness");
  detail::check_factor(factor, "adjust_brightness", "brightness_factor");
  return blend(img, factor, [](int64_t, int) { return 0; });
}

Image adjust_contrast(const Image& img, double factor) {
  detail::check_image(img, "adjust_contrast");
  detail::check_factor(factor, "adjust_contrast", "contrast_factor");
  // ImageStat's mean of the L image: an integer sum over a count, one correctly rounded division.
  const Image gray = to_grayscale(img);
  int64_t sum = 0;
  for (uint8_t v : gray.data) sum += v;
  const int mean = int(double(sum) / double(gray.data.size()) + 0.5);
  return blend(img, factor, [mean](int64_t, int) { return mean; });
}

Image adjust_saturation(const Image& img, double factor) {
  detail::check_image(img, "adjust_saturation");
  detail::check_factor(factor, "adjust_saturation", "saturation_factor");
  const Image gray = to_grayscale(img);
  return blend(img, factor, [&](int64_t p, int) { return int(gray.data[size_t(p)]); });
}

Image adjust_sharpness(const Image& img, double factor) {
  detail::check_image(img, "adjust_sharpness");
  detail::check_factor(factor, "adjust_sharpness", "sharpness_factor");
  const Image smooth = detail::smooth_filter(img);
  const int64_t channels = img.channels;
  return blend(img, factor,
               [&](int64_t p, int c) { return int(smooth.data[size_t(p * channels + c)]); });
}

Image adjust_hue(const Image& img, double hue_factor) {
  detail::check_image(img, "adjust_hue");
  AFN_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue: hue_factor (", hue_factor,
            ") is not in [-0.5, 0.5]");
  if (img.channels == 1) return img;  // PIL leaves L images as they are
  // np.uint8(hue_factor * 255): truncation to an integer, then wrap-around modulo 256.
  const uint8_t shift = uint8_t(int32_t(hue_factor * 255));
  static const HsvTables tables;
  Image out(img.height, img.width, 3);
  for (size_t i = 0; i < img.data.size(); i += 3) {
    uint8_t hsv[3];
    rgb_to_hsv(&img.data[i], hsv);
    hsv[0] = uint8_t(hsv[0] + shift);
    hsv_to_rgb(hsv, &out.data[i], tables);
  }
  return out;
}

// ---- ColorJitter --------------------------------------------------------------------------------

namespace {

// torchvision's _check_input: a number v gives (center - v, center + v), the lower end clipped at
// 0 for brightness / contrast / saturation; a range must lie within `bound`. The identity range
// (center, center) disables the adjustment.
ColorJitter::Range jitter_range(ColorJitter::Range r, const char* name, double center,
                                std::array<double, 2> bound) {
  if (!r) return r;
  const auto [lo, hi] = *r;
  AFN_CHECK(bound[0] <= lo && lo <= hi && hi <= bound[1], "ColorJitter: ", name,
            " values should be a (min, max) range within [", bound[0], ", ", bound[1], "], got (",
            lo, ", ", hi, ")");
  if (lo == center && hi == center) return std::nullopt;
  return r;
}

ColorJitter::Range from_number(double v, const char* name, double center, bool clip_zero) {
  AFN_CHECK(v >= 0, "ColorJitter: if ", name, " is a single number, it must be non negative, got ",
            v);
  return std::array<double, 2>{clip_zero ? std::max(center - v, 0.0) : center - v, center + v};
}

constexpr std::array<double, 2> kFactorBound = {0.0, INFINITY};
constexpr std::array<double, 2> kHueBound = {-0.5, 0.5};

}  // namespace

ColorJitter::ColorJitter(double brightness, double contrast, double saturation, double hue)
    : ColorJitter(from_number(brightness, "brightness", 1, true),
                  from_number(contrast, "contrast", 1, true),
                  from_number(saturation, "saturation", 1, true),
                  from_number(hue, "hue", 0, false)) {}

ColorJitter::ColorJitter(Range brightness, Range contrast, Range saturation, Range hue)
    : brightness_(jitter_range(brightness, "brightness", 1, kFactorBound)),
      contrast_(jitter_range(contrast, "contrast", 1, kFactorBound)),
      saturation_(jitter_range(saturation, "saturation", 1, kFactorBound)),
      hue_(jitter_range(hue, "hue", 0, kHueBound)) {}

ColorJitter::Params ColorJitter::get_params(Range brightness, Range contrast, Range saturation,
                                            Range hue, Generator& gen) {
  Params p;
  // torch.randperm(4) as a Fisher-Yates shuffle.
  for (int i = 3; i > 0; --i)
    std::swap(p.order[size_t(i)], p.order[size_t(draw_int(gen, 0, i + 1))]);
  auto draw = [&](const Range& r) -> std::optional<double> {
    if (!r) return std::nullopt;
    return draw_uniform(gen, (*r)[0], (*r)[1]);
  };
  p.brightness = draw(brightness);
  p.contrast = draw(contrast);
  p.saturation = draw(saturation);
  p.hue = draw(hue);
  return p;
}

Image ColorJitter::apply(const Image& img, const Params& p) {
  Image out = img;
  for (int id : p.order) {
    if (id == 0 && p.brightness) out = adjust_brightness(out, *p.brightness);
    if (id == 1 && p.contrast) out = adjust_contrast(out, *p.contrast);
    if (id == 2 && p.saturation) out = adjust_saturation(out, *p.saturation);
    if (id == 3 && p.hue) out = adjust_hue(out, *p.hue);
  }
  return out;
}

Image ColorJitter::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, "ColorJitter");
  return apply(img, get_params(brightness_, contrast_, saturation_, hue_, gen));
}

}  // namespace afinar::data
