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

// Horizontal pass over rows [row0, row0 + rows) of src into dst (rows × outputs).
template <int C>
void horizontal_pass(const ImageView& src, int64_t row0, int64_t rows, const PassWeights& pw,
                     uint8_t* dst) {
  const int64_t out_w = int64_t(pw.first.size());
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* in = src.row(row0 + y);
    uint8_t* out = dst + y * out_w * C;
    for (int64_t i = 0; i < out_w; ++i) {
      const int32_t* w = &pw.weights[size_t(i) * size_t(pw.taps)];
      const uint8_t* p = in + int64_t(pw.first[size_t(i)]) * C;
      int32_t acc[C];
      for (int c = 0; c < C; ++c) acc[c] = 1 << (kPrecisionBits - 1);
      for (int x = 0; x < pw.count[size_t(i)]; ++x, p += C) {
        for (int c = 0; c < C; ++c) acc[c] += int32_t(p[c]) * w[x];
      }
      for (int c = 0; c < C; ++c) out[i * C + c] = clip8(acc[c]);
    }
  }
}

// Vertical pass: output row j combines src rows first[j] - row0 ... (src holds rows from row0).
template <int C>
void vertical_pass(const ImageView& src, int64_t row0, const PassWeights& pw, uint8_t* dst) {
  const int64_t out_h = int64_t(pw.first.size());
  const int64_t n = src.width * C;
  std::vector<int32_t> acc(static_cast<size_t>(n));
  for (int64_t j = 0; j < out_h; ++j) {
    const int32_t* w = &pw.weights[size_t(j) * size_t(pw.taps)];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < pw.count[size_t(j)]; ++y) {
      const uint8_t* in = src.row(pw.first[size_t(j)] + y - row0);
      const int32_t wy = w[y];
      for (int64_t x = 0; x < n; ++x) acc[size_t(x)] += int32_t(in[x]) * wy;
    }
    uint8_t* out = dst + j * n;
    for (int64_t x = 0; x < n; ++x) out[x] = clip8(acc[size_t(x)]);
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
  Image tmp(row1 - row0, win.width, C);
  horizontal_pass<C>(src, row0, row1 - row0, horiz, tmp.data.data());
  vertical_pass<C>(view_of(tmp), row0, vert, dst.data.data());
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

Image resize_center_crop(const Image& img, int64_t size, ImageSize crop_size,
                         Interpolation interpolation) {
  check_image(img, "resize");
  check_size(crop_size, "center_crop", "size");
  const ImageSize out = resize_output_size({img.height, img.width}, size);
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
