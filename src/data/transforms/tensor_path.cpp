// torchvision's functional_tensor ops on uint8 images (tensor_path.h): float32 arithmetic in the
// order torch evaluates it, each product and sum rounded on its own (-ffp-contract=off, see
// internal.h) unless torch fuses them too.
#include "data/transforms/tensor_path.h"

#include <algorithm>
#include <cmath>

namespace afinar::data::detail {
namespace {

// .to(torch.uint8) of a float32 in [0, 255]: truncation.
inline uint8_t to_byte(float v) {
  return uint8_t(std::clamp(v, 0.0f, 255.0f));
}

// _blend(img, other, ratio): other(i) is the second operand at byte i of img (a float32: a pixel
// of an image, or a per-image mean).
template <typename Other>
Image blend(const Image& img, double ratio, Other other) {
  const float r = float(ratio), q = float(1.0 - ratio);
  Image out(img.height, img.width, img.channels);
  for (size_t i = 0; i < img.data.size(); ++i) {
    const float a = r * float(img.data[i]);
    const float b = q * other(i);
    out.data[i] = to_byte(a + b);
  }
  return out;
}

// rgb_to_grayscale(img) of an RGB image: one byte per pixel.
std::vector<uint8_t> grey(const Image& img) {
  std::vector<uint8_t> g(size_t(img.height * img.width));
  for (size_t p = 0; p < g.size(); ++p) {
    const uint8_t* px = img.data.data() + p * 3;
    const float r = 0.2989f * float(px[0]), gr = 0.587f * float(px[1]), b = 0.114f * float(px[2]);
    g[p] = to_byte(r + gr + b);
  }
  return g;
}

}  // namespace

Image adjust_brightness_tensor(const Image& img, double factor) {
  check_image(img, "adjust_brightness");
  check_factor(factor, "adjust_brightness", "brightness_factor");
  return blend(img, factor, [](size_t) { return 0.0f; });
}

Image adjust_saturation_tensor(const Image& img, double factor) {
  check_image(img, "adjust_saturation");
  check_factor(factor, "adjust_saturation", "saturation_factor");
  if (img.channels == 1) return img;  // torchvision: "Match PIL behaviour"
  const std::vector<uint8_t> g = grey(img);
  return blend(img, factor, [&](size_t i) { return float(g[i / 3]); });
}

Image adjust_contrast_tensor(const Image& img, double factor) {
  check_image(img, "adjust_contrast");
  check_factor(factor, "adjust_contrast", "contrast_factor");
  // torch.mean in float32 is a sum, then one division. The sum of H·W bytes is exact below 2^24
  // (any image of up to 65,793 pixels), where every summation order gives the same float.
  int64_t sum = 0;
  if (img.channels == 3) {
    for (uint8_t v : grey(img)) sum += v;
  } else {
    for (uint8_t v : img.data) sum += v;
  }
  const float mean = float(sum) / float(img.height * img.width);
  return blend(img, factor, [mean](size_t) { return mean; });
}

Image adjust_sharpness_tensor(const Image& img, double factor) {
  check_image(img, "adjust_sharpness");
  check_factor(factor, "adjust_sharpness", "sharpness_factor");
  if (img.height <= 2 || img.width <= 2) return img;
  // torchvision rounds its float32 convolution of the interior; S / 13 (S the kernel's integer
  // sum) is never a half and float32 lands within 1e-4 of it, so that is Pillow's SMOOTH exactly.
  const Image blurred = smooth_filter(img);
  return blend(img, factor, [&](size_t i) { return float(blurred.data[i]); });
}

Image autocontrast_tensor(const Image& img) {
  check_image(img, "autocontrast");
  const int64_t C = img.channels;
  Image out(img.height, img.width, C);
  for (int64_t c = 0; c < C; ++c) {
    uint8_t lo = 255, hi = 0;
    for (size_t i = size_t(c); i < img.data.size(); i += size_t(C)) {
      lo = std::min(lo, img.data[i]);
      hi = std::max(hi, img.data[i]);
    }
    // scale = 255 / (hi - lo) is inf when hi == lo: torch then uses lo = 0, scale = 1.
    const float minimum = hi == lo ? 0.0f : float(lo);
    const float scale = hi == lo ? 1.0f : 255.0f / (float(hi) - float(lo));
    for (size_t i = size_t(c); i < img.data.size(); i += size_t(C)) {
      const float shifted = float(img.data[i]) - minimum;
      out.data[i] = to_byte(shifted * scale);
    }
  }
  return out;
}

Image warp_affine_tensor(const Image& img, const std::array<double, 6>& inverse,
                         Interpolation interpolation) {
  check_image(img, "affine");
  AFN_CHECK(interpolation != Interpolation::Bicubic,
            "affine: bicubic interpolation is not available on torchvision's tensor path (AugMix "
            "resamples its tensors): use nearest or bilinear");
  const int64_t H = img.height, W = img.width, C = img.channels;
  // _gen_affine_grid: theta in float32, its columns divided by (W/2, H/2).
  const float half_w = float(W) / 2, half_h = float(H) / 2;
  std::array<float, 6> t;
  for (size_t k = 0; k < 3; ++k) {
    t[k] = float(inverse[k]) / half_w;
    t[3 + k] = float(inverse[3 + k]) / half_h;
  }
  Image out(H, W, C);
  for (int64_t i = 0; i < H; ++i) {
    // torch.linspace(-H/2 + 0.5, H/2 - 0.5, H): a step of exactly 1, so y = i + 0.5 - H/2.
    const float y = float(i) + 0.5f - half_h;
    for (int64_t j = 0; j < W; ++j) {
      const float x = float(j) + 0.5f - half_w;
      // base_grid (x, y, 1) times the rescaled theta, a bmm: torch's BLAS (an AVX2 build)
      // multiplies x, fuses y's product into that sum, then adds the constant, and the last bit
      // of the sum decides some bilinear roundings.
      const float gx = std::fma(y, t[1], x * t[0]) + t[2];
      const float gy = std::fma(y, t[4], x * t[3]) + t[5];
      // torch's AVX2 kernel of grid_sample is compiled with its products fused into the sums
      // that follow them (GCC contracts the vector arithmetic into FMAs): so is this emulation,
      // here and in the bilinear sum below.
      const float u = std::fma(gx + 1.0f, half_w, -0.5f);
      const float v = std::fma(gy + 1.0f, half_h, -0.5f);
      uint8_t* o = out.pixel(i, j);
      if (!(std::fabs(u) < 1e9f && std::fabs(v) < 1e9f)) continue;  // far outside (or NaN): 0
      if (interpolation == Interpolation::Nearest) {
        const float ru = std::nearbyint(u), rv = std::nearbyint(v);
        if (ru >= 0 && ru < float(W) && rv >= 0 && rv < float(H))
          copy_pixel(o, img.pixel(int64_t(rv), int64_t(ru)), C);
        continue;
      }
      const float fu = std::floor(u), fv = std::floor(v);
      const float w = u - fu, e = 1.0f - w, n = v - fv, s = 1.0f - n;
      const float weights[4] = {s * e, s * w, n * e, n * w};  // nw, ne, sw, se
      const int64_t x0 = int64_t(fu), y0 = int64_t(fv);
      // The corners nw, ne, sw, se: their pixels, or null outside the image (a value of 0).
      const uint8_t* corners[4];
      for (int k = 0; k < 4; ++k) {
        const int64_t xx = x0 + (k & 1), yy = y0 + (k >> 1);
        corners[k] = xx >= 0 && xx < W && yy >= 0 && yy < H ? img.pixel(yy, xx) : nullptr;
      }
      for (int64_t c = 0; c < C; ++c) {
        // nw·w_nw, then each further corner fused in: fma(value, weight, sum). A corner outside
        // adds fma(0, weight, sum) = sum, so it is skipped.
        float sum = corners[0] ? float(corners[0][c]) * weights[0] : 0.0f;
        for (int k = 1; k < 4; ++k)
          if (corners[k]) sum = std::fma(float(corners[k][c]), weights[k], sum);
        o[c] = to_byte(std::nearbyint(sum));
      }
    }
  }
  return out;
}

}  // namespace afinar::data::detail
