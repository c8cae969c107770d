// Resize as Pillow 9.4 does it for torchvision's PIL path (Image.resize, libImaging/Resample.c).
//
// Bilinear and bicubic are separable convolutions, one pass per axis: the horizontal pass runs
// first, then the vertical pass on its 8-bit output; an axis whose size does not change is not
// resampled. For output index i of a pass of scale s = in/out the filter is centred on
// c = (i + 0.5)·s, stretched by max(s, 1) (so a downscale averages over a support of
// support·s input pixels: the antialiasing) and evaluated at the centres k + 0.5 of the input
// pixels k in [⌊c - support·max(s,1) + 0.5⌋, ⌊c + support·max(s,1) + 0.5⌋). The weights are
// normalised to sum 1, rounded to 22-bit fixed point (half away from zero), and each output is
// (Σ w_k·x_k + 2^21) >> 22 clamped to [0, 255].
// Nearest reads x[⌊(i + 0.5)·s⌋] with the position accumulated by repeated addition of s, as
// Pillow's ImagingScaleAffine does (the accumulation decides the rare exact-boundary cases).
#include "data/transforms/internal.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace afinar::data {
namespace detail {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

double triangle_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution kernel with a = -0.5 (Pillow's bicubic_filter).
double cubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// The fixed-point weights of one pass: output i reads `count[i]` inputs from `first[i]` with
// weights[i·taps ...].
struct PassWeights {
  int taps = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for resampling [0, in_size) to out_size, for
// the outputs [o0, o0 + n) only (each output's weights depend on its own index alone).
PassWeights pass_weights(int64_t in_size, int64_t out_size, Interpolation interpolation, int64_t o0,
                         int64_t n) {
  const bool cubic = interpolation == Interpolation::Bicubic;
  const double scale = double(in_size) / double(out_size);
  const double filterscale = std::max(scale, 1.0);
  const double support = (cubic ? 2.0 : 1.0) * filterscale;
  PassWeights pw;
  pw.taps = int(std::ceil(support)) * 2 + 1;
  pw.first.resize(size_t(n));
  pw.count.resize(size_t(n));
  pw.weights.assign(size_t(n) * size_t(pw.taps), 0);
  std::vector<double> k(size_t(pw.taps));
  for (int64_t i = 0; i < n; ++i) {
    const double center = (double(o0 + i) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(int(center - support + 0.5), 0);
    const int xmax = std::min(int(center + support + 0.5), int(in_size)) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double arg = (x + xmin - center + 0.5) * ss;
      k[size_t(x)] = cubic ? cubic_filter(arg) : triangle_filter(arg);
      ww += k[size_t(x)];
    }
    int32_t* w = &pw.weights[size_t(i) * size_t(pw.taps)];
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? k[size_t(x)] / ww : k[size_t(x)];
      w[x] = int32_t(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    pw.first[size_t(i)] = xmin;
    pw.count[size_t(i)] = xmax;
  }
  return pw;
}

inline uint8_t clip8(int32_t acc) {
  return uint8_t(std::clamp(acc >> kPrecisionBits, 0, 255));
}

// One output pixel of the horizontal pass: Σ w_x·p[x·C + c] over the `count` inputs at p.
template <int C>
void horizontal_pixel(const uint8_t* p, const int32_t* w, int count, uint8_t* out) {
  int32_t acc[C];
  for (int c = 0; c < C; ++c) acc[c] = 1 << (kPrecisionBits - 1);
  for (int x = 0; x < count; ++x, p += C) {
    for (int c = 0; c < C; ++c) acc[c] += int32_t(p[c]) * w[x];
  }
  for (int c = 0; c < C; ++c) out[c] = clip8(acc[c]);
}

#if defined(__AVX2__)
// The horizontal pass of RGB rows with AVX2, four taps per step in 16-bit multiply-adds. Each
// weight is split exactly as w = 256·hi + lo with lo in [0, 256) and |hi| <= 2^14 (int16), so
// Σ p·w = 256·Σ p·hi + Σ p·lo with every product and pair sum in int32. The sum is the scalar
// one exactly (all partial sums stay within Σ 255·|w| < 2^31), hence the same bytes.
// A step loads 16 bytes at the group's first pixel (4 pixels and 4 bytes more) and spreads them to
// 16-bit lanes (r_a r_b g_a g_b b_a b_b 0 0 | r_c r_d g_c g_d b_c b_d 0 0) for taps a..d; the
// weights of taps past `count` are 0, so a row must be readable up to 13 bytes past its end.
class RgbRowFilter {
 public:
  explicit RgbRowFilter(const PassWeights& pw)
      : pw_(pw),
        groups_((pw.taps + 3) / 4),
        hi_(pw.first.size() * size_t(groups_) * 16),
        lo_(hi_.size()) {
    for (size_t i = 0; i < pw.first.size(); ++i) {
      for (int t = 0; t < pw.taps; ++t) {
        const int32_t w = pw.weights[i * size_t(pw.taps) + size_t(t)];
        // Tap t sits in group t/4, half (t%4)/2, at 16-bit lanes t%2, t%2 + 2, t%2 + 4.
        const size_t base = (i * size_t(groups_) + size_t(t / 4)) * 16 + size_t(t % 4 / 2) * 8;
        for (size_t c = 0; c < 3; ++c) {
          hi_[base + 2 * c + size_t(t % 2)] = int16_t(w >> 8);
          lo_[base + 2 * c + size_t(t % 2)] = int16_t(w & 255);
        }
      }
    }
  }

  static constexpr int64_t kOverread = 13;

  // One output row; `in` is readable up to kOverread bytes past its end.
  void run(const uint8_t* in, uint8_t* out) const {
    const size_t n = pw_.first.size();
    size_t i = 0;
    // Four outputs at a time share the final reduction, rounding, clamp and one 12-byte store.
    const __m128i compact = _mm_setr_epi8(0, 1, 2, 8, 9, 10, 4, 5, 6, 12, 13, 14, -1, -1, -1, -1);
    for (; i + 4 <= n; i += 4, out += 12) {
      const __m256i a0 = sum(in, i), a1 = sum(in, i + 1), a2 = sum(in, i + 2), a3 = sum(in, i + 3);
      // Lanes [output i | output i + 1] and [i + 2 | i + 3], each 4 channels (the 4th unused).
      const __m256i s01 = finish(_mm256_add_epi32(_mm256_permute2x128_si256(a0, a1, 0x20),
                                                  _mm256_permute2x128_si256(a0, a1, 0x31)));
      const __m256i s23 = finish(_mm256_add_epi32(_mm256_permute2x128_si256(a2, a3, 0x20),
                                                  _mm256_permute2x128_si256(a2, a3, 0x31)));
      // packs then packus saturate to [0, 255] (clip8's clamp); bytes come out as i, i+2, i+1, i+3.
      const __m256i words = _mm256_packs_epi32(s01, s23);
      const __m128i bytes = _mm_shuffle_epi8(
          _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1)),
          compact);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
      const int32_t last = _mm_extract_epi32(bytes, 2);
      std::memcpy(out + 8, &last, 4);
    }
    for (; i < n; ++i, out += 3) {
      const __m256i a = sum(in, i);
      const __m128i s = _mm256_castsi256_si128(
          finish(_mm256_add_epi32(a, _mm256_permute2x128_si256(a, a, 0x01))));
      const int32_t rgb = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(s, s), s));
      out[0] = uint8_t(rgb);
      out[1] = uint8_t(rgb >> 8);
      out[2] = uint8_t(rgb >> 16);
    }
  }

 private:
  // Σ p·w of output i, split over the two 128-bit halves (taps a, b and c, d of each group).
  __m256i sum(const uint8_t* in, size_t i) const {
    const __m256i spread =
        _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 6, -1, 9, -1, 7,
                         -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
    const uint8_t* p = in + pw_.first[i] * 3;
    const int16_t* hi = &hi_[i * size_t(groups_) * 16];
    const int16_t* lo = &lo_[i * size_t(groups_) * 16];
    __m256i acc_hi = _mm256_setzero_si256(), acc_lo = _mm256_setzero_si256();
    for (int g = 0; g < (pw_.count[i] + 3) / 4; ++g, p += 12, hi += 16, lo += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m256i px = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(bytes), spread);
      acc_hi = _mm256_add_epi32(
          acc_hi, _mm256_madd_epi16(px, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi))));
      acc_lo = _mm256_add_epi32(
          acc_lo, _mm256_madd_epi16(px, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo))));
    }
    return _mm256_add_epi32(_mm256_slli_epi32(acc_hi, 8), acc_lo);
  }

  // (acc + 2^21) >> 22, lane by lane.
  static __m256i finish(__m256i acc) {
    return _mm256_srai_epi32(_mm256_add_epi32(acc, _mm256_set1_epi32(1 << (kPrecisionBits - 1))),
                             kPrecisionBits);
  }

  const PassWeights& pw_;
  int groups_;
  std::vector<int16_t> hi_, lo_;  // per output, groups_ × 16 lanes of split weights
};
#endif

// Horizontal pass over rows [row0, row0 + rows) of src into dst (rows × outputs).
template <int C>
void horizontal_pass(const ImageView& src, int64_t row0, int64_t rows, const PassWeights& pw,
                     uint8_t* dst) {
  const int64_t out_w = int64_t(pw.first.size());
#if defined(__AVX2__)
  if constexpr (C == 3) {
    const RgbRowFilter filter(pw);
    std::vector<uint8_t> padded;
    for (int64_t y = row0; y < row0 + rows; ++y) {
      const uint8_t* in = src.row(y);
      // The rows below make up the overread, except near the view's end: copy those rows.
      if ((src.height - 1 - y) * src.row_stride < RgbRowFilter::kOverread) {
        padded.assign(size_t(src.width * 3 + RgbRowFilter::kOverread), 0);
        std::memcpy(padded.data(), in, size_t(src.width * 3));
        in = padded.data();
      }
      filter.run(in, dst + (y - row0) * out_w * 3);
    }
    return;
  }
#endif
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* in = src.row(row0 + y);
    uint8_t* out = dst + y * out_w * C;
    for (int64_t i = 0; i < out_w; ++i) {
      horizontal_pixel<C>(in + int64_t(pw.first[size_t(i)]) * C,
                          &pw.weights[size_t(i) * size_t(pw.taps)], pw.count[size_t(i)],
                          out + i * C);
    }
  }
}

// Vertical pass: output row j combines src rows first[j] - row0 ... (src holds rows from row0).
// The row is done in blocks of kBlock bytes whose sums stay in registers across the taps.
template <int C>
void vertical_pass(const ImageView& src, int64_t row0, const PassWeights& pw, uint8_t* dst) {
  constexpr int64_t kBlock = 32;
  const int64_t out_h = int64_t(pw.first.size());
  const int64_t n = src.width * C;
  for (int64_t j = 0; j < out_h; ++j) {
    const int32_t* w = &pw.weights[size_t(j) * size_t(pw.taps)];
    const int count = pw.count[size_t(j)];
    const uint8_t* in = src.row(pw.first[size_t(j)] - row0);
    uint8_t* out = dst + j * n;
    int64_t x0 = 0;
    for (; x0 + kBlock <= n; x0 += kBlock) {
      int32_t acc[kBlock];
      for (int64_t x = 0; x < kBlock; ++x) acc[x] = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < count; ++y) {
        const uint8_t* r = in + y * src.row_stride + x0;
        for (int64_t x = 0; x < kBlock; ++x) acc[x] += int32_t(r[x]) * w[y];
      }
      for (int64_t x = 0; x < kBlock; ++x) out[x0 + x] = clip8(acc[x]);
    }
    for (int64_t x = x0; x < n; ++x) {
      int32_t acc = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < count; ++y) acc += int32_t(in[y * src.row_stride + x]) * w[y];
      out[x] = clip8(acc);
    }
  }
}

// The columns [left, left + width) of a view.
ImageView columns(ImageView v, int64_t left, int64_t width) {
  v.data += left * v.channels;
  v.width = width;
  return v;
}

template <int C>
Image resample_separable(const ImageView& src, ImageSize out, const CropBox& win,
                         Interpolation interpolation) {
  Image dst(win.height, win.width, C);
  // Pillow resamples an axis only when its size changes; the other axis is taken as it is.
  const bool need_h = out.width != src.width, need_v = out.height != src.height;
  if (!need_h) {
    vertical_pass<C>(columns(src, win.left, win.width), 0,
                     pass_weights(src.height, out.height, interpolation, win.top, win.height),
                     dst.data.data());
    return dst;
  }
  const PassWeights horiz = pass_weights(src.width, out.width, interpolation, win.left, win.width);
  if (!need_v) {
    horizontal_pass<C>(src, win.top, win.height, horiz, dst.data.data());
    return dst;
  }
  // The horizontal pass covers only the source rows the vertical pass will read.
  const PassWeights vert = pass_weights(src.height, out.height, interpolation, win.top, win.height);
  const int64_t row0 = vert.first.front(), row1 = vert.first.back() + vert.count.back();
  // The intermediate rows live in a per-thread buffer reused across calls (no allocation and no
  // zero fill per image); every byte of it that the vertical pass reads is written first.
  thread_local std::vector<uint8_t> tmp;
  tmp.resize(std::max(tmp.size(), size_t((row1 - row0) * win.width * C)));
  horizontal_pass<C>(src, row0, row1 - row0, horiz, tmp.data());
  vertical_pass<C>({tmp.data(), row1 - row0, win.width, C, win.width * C}, row0, vert,
                   dst.data.data());
  return dst;
}

// ImagingScaleAffine with a = (in/out, 0, 0; 0, in/out, 0): Pillow's nearest-neighbour resize.
// The positions are accumulated from the first output on, as Pillow does, even outside the
// window. Positions that fall outside the input (they cannot for a plain resize) stay 0.
Image resample_nearest(const ImageView& src, ImageSize out, const CropBox& win) {
  const int64_t C = src.channels;
  const double sx = double(src.width) / double(out.width);
  const double sy = double(src.height) / double(out.height);
  auto coord = [](double v) { return v < 0.0 ? int64_t(-1) : int64_t(v); };  // Pillow's COORD
  std::vector<int64_t> xin(size_t(win.width));
  double xo = 0.0 + sx * 0.5;
  for (int64_t x = 0; x < win.left + win.width; ++x, xo += sx) {
    if (x >= win.left) xin[size_t(x - win.left)] = coord(xo) < src.width ? coord(xo) : -1;
  }
  Image dst(win.height, win.width, C);
  double yo = 0.0 + sy * 0.5;
  for (int64_t y = 0; y < win.top + win.height; ++y, yo += sy) {
    const int64_t yi = coord(yo);
    if (y < win.top || yi < 0 || yi >= src.height) continue;
    const uint8_t* in = src.row(yi);
    uint8_t* o = dst.pixel(y - win.top, 0);
    for (int64_t x = 0; x < win.width; ++x, o += C) {
      if (xin[size_t(x)] >= 0) copy_pixel(o, in + xin[size_t(x)] * C, C);
    }
  }
  return dst;
}

}  // namespace

Image resample(const ImageView& src, ImageSize out, Interpolation interpolation,
               std::optional<CropBox> window) {
  check_size(out, "resize", "the output size");
  const CropBox win = window.value_or(CropBox{0, 0, out.height, out.width});
  AFN_CHECK(win.top >= 0 && win.left >= 0 && win.height > 0 && win.width > 0 &&
                win.top + win.height <= out.height && win.left + win.width <= out.width,
            "resize: the output window does not fit the output size");
  if (out.height == src.height && out.width == src.width) {  // Pillow copies (ImagingCrop)
    Image dst(win.height, win.width, src.channels);
    for (int64_t y = 0; y < win.height; ++y) {
      std::memcpy(dst.pixel(y, 0), src.row(win.top + y) + win.left * src.channels,
                  size_t(win.width * src.channels));
    }
    return dst;
  }
  if (interpolation == Interpolation::Nearest) return resample_nearest(src, out, win);
  return src.channels == 3 ? resample_separable<3>(src, out, win, interpolation)
                           : resample_separable<1>(src, out, win, interpolation);
}

Image resize_center_crop(const Image& img, ImageSize out, ImageSize crop_size,
                         Interpolation interpolation) {
  check_image(img, "resize");
  check_size(out, "resize", "size");
  check_size(crop_size, "center_crop", "size");
  if (crop_size.height > out.height || crop_size.width > out.width) {  // padding: no saving
    return center_crop(resize(img, out, interpolation), crop_size);
  }
  const CropBox win{py_round(double(out.height - crop_size.height) / 2.0),
                    py_round(double(out.width - crop_size.width) / 2.0), crop_size.height,
                    crop_size.width};
  return resample(view_of(img), out, interpolation, win);
}

}  // namespace detail

ImageSize resize_output_size(ImageSize in, int64_t size, std::optional<int64_t> max_size) {
  AFN_CHECK(size > 0, "resize: size must be positive, got ", size);
  const bool w_short = in.width <= in.height;
  const int64_t shorter = w_short ? in.width : in.height, longer = w_short ? in.height : in.width;
  int64_t new_short = size;
  // int(size * long / short): Python's true division is correctly rounded, as is the double one.
  int64_t new_long = int64_t(double(size * longer) / double(shorter));
  if (max_size) {
    AFN_CHECK(*max_size > size, "resize: max_size = ", *max_size,
              " must be strictly greater than the requested size for the smaller edge = ", size);
    if (new_long > *max_size) {
      new_short = int64_t(double(*max_size * new_short) / double(new_long));
      new_long = *max_size;
    }
  }
  return w_short ? ImageSize{new_long, new_short} : ImageSize{new_short, new_long};
}

Image resize(const Image& img, int64_t size, Interpolation interpolation,
             std::optional<int64_t> max_size) {
  detail::check_image(img, "resize");
  return resize(img, resize_output_size({img.height, img.width}, size, max_size), interpolation);
}

Image resize(const Image& img, ImageSize size, Interpolation interpolation) {
  detail::check_image(img, "resize");
  detail::check_size(size, "resize", "size");
  return detail::resample(detail::view_of(img), size, interpolation);
}

Image resized_crop(const Image& img, const CropBox& box, ImageSize size,
                   Interpolation interpolation) {
  detail::check_image(img, "resized_crop");
  detail::check_size({box.height, box.width}, "resized_crop", "the crop size");
  detail::check_size(size, "resized_crop", "size");
  const bool inside = box.top >= 0 && box.left >= 0 && box.top + box.height <= img.height &&
                      box.left + box.width <= img.width;
  if (!inside) return detail::resample(detail::view_of(crop(img, box)), size, interpolation);
  // A box inside the image is resampled in place: same pixels as PIL's crop, without the copy.
  const int64_t C = img.channels;
  const detail::ImageView v{img.data.data() + (box.top * img.width + box.left) * C, box.height,
                            box.width, C, img.width * C};
  return detail::resample(v, size, interpolation);
}

Resize::Resize(int64_t size, Interpolation interpolation, std::optional<int64_t> max_size)
    : shorter_(size), interpolation_(interpolation), max_size_(max_size) {
  AFN_CHECK(size > 0, "Resize: size must be positive, got ", size);
  AFN_CHECK(!max_size || *max_size > size, "Resize: max_size = ", *max_size,
            " must be strictly greater than size = ", size);
}

Resize::Resize(ImageSize size, Interpolation interpolation)
    : size_(size), interpolation_(interpolation) {
  detail::check_size(size, "Resize", "size");
}

Image Resize::operator()(const Image& img) const {
  return shorter_ ? resize(img, *shorter_, interpolation_, max_size_)
                  : resize(img, size_, interpolation_);
}

}  // namespace afinar::data
