// Rotation and affine warps as torchvision's PIL path computes them: PIL's Image.rotate matrix or
// torchvision's _get_inverse_affine_matrix, then Image.transform(AFFINE) (libImaging/Geometry.c).
//
// An output pixel (x, y) samples the input at (u, v) = M·(x + 0.5, y + 0.5, 1), M = [a b c; d e f]
// the inverse map. Nearest takes pixel (⌊u⌋, ⌊v⌋), walking u and v in 16.16 fixed point
// (Pillow's affine_fixed; ImagingScaleAffine when b = d = 0, doubles beyond ±32768); bilinear and
// bicubic interpolate around (u - 0.5, v - 0.5), truncating to 8 bits (bicubic clamped first).
// Samples outside the input leave the fill colour.
#include "data/transforms/internal.h"

#include <algorithm>
#include <cstring>

namespace afinar::data {
namespace {

using Matrix = std::array<double, 6>;

// Pillow's COORD and FLOOR macros.
inline int coord(double v) {
  return v < 0.0 ? -1 : int(v);
}
inline int pil_floor(double v) {
  return v < 0.0 ? int(std::floor(v)) : int(v);
}

// ImagingScaleAffine (b = d = 0): the input column of each output column is tabulated once.
void warp_scale(const Image& src, Image& dst, const Matrix& a) {
  const int64_t C = src.channels;
  std::vector<int64_t> xintab(size_t(dst.width), 0);
  int64_t xmin = dst.width, xmax = 0;
  double xo = a[2] + a[0] * 0.5;
  for (int64_t x = 0; x < dst.width; ++x, xo += a[0]) {
    const int xin = coord(xo);
    if (xin >= 0 && xin < src.width) {
      xmax = x + 1;
      xmin = std::min(xmin, x);
      xintab[size_t(x)] = xin;
    }
  }
  double yo = a[5] + a[4] * 0.5;
  for (int64_t y = 0; y < dst.height; ++y, yo += a[4]) {
    const int yi = coord(yo);
    if (yi < 0 || yi >= src.height) continue;
    for (int64_t x = xmin; x < xmax; ++x) {
      detail::copy_pixel(dst.pixel(y, x), src.pixel(yi, xintab[size_t(x)]), C);
    }
  }
}

// Pillow's check_fixed: can corner (x, y) be walked in 16.16 fixed point?
bool fits_fixed(const Matrix& a, int64_t x, int64_t y) {
  return std::fabs(double(x) * a[0] + double(y) * a[1] + a[2]) < 32768.0 &&
         std::fabs(double(x) * a[3] + double(y) * a[4] + a[5]) < 32768.0;
}

// Pillow's affine_fixed: nearest neighbour with u, v in 16.16 fixed point.
void warp_nearest_fixed(const Image& src, Image& dst, const Matrix& a) {
  const int64_t C = src.channels;
  auto fix = [](double v) { return int32_t(pil_floor(v * 65536.0 + 0.5)); };
  const int32_t a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4]);
  int32_t a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5);
  int32_t a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
  for (int64_t y = 0; y < dst.height; ++y, a2 += a1, a5 += a4) {
    int32_t xx = a2, yy = a5;
    for (int64_t x = 0; x < dst.width; ++x, xx += a0, yy += a3) {
      const int32_t xin = xx >> 16, yin = yy >> 16;
      if (xin >= 0 && xin < src.width && yin >= 0 && yin < src.height) {
        detail::copy_pixel(dst.pixel(y, x), src.pixel(yin, xin), C);
      }
    }
  }
}

// Pillow's floating-point affine walk, for maps beyond the fixed-point range.
void warp_nearest_float(const Image& src, Image& dst, const Matrix& a) {
  const int64_t C = src.channels;
  double xo = a[2] + a[1] * 0.5 + a[0] * 0.5;
  double yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
  for (int64_t y = 0; y < dst.height; ++y, xo += a[1], yo += a[4]) {
    double xx = xo, yy = yo;
    for (int64_t x = 0; x < dst.width; ++x, xx += a[0], yy += a[3]) {
      const int xin = coord(xx), yin = coord(yy);
      if (xin >= 0 && xin < src.width && yin >= 0 && yin < src.height) {
        detail::copy_pixel(dst.pixel(y, x), src.pixel(yin, xin), C);
      }
    }
  }
}

// Pillow's bilinear_filter8 / bilinear_filter32RGB at input position (u, v).
bool sample_bilinear(const Image& im, double u, double v, uint8_t* out) {
  if (u < 0.0 || u >= double(im.width) || v < 0.0 || v >= double(im.height)) return false;
  u -= 0.5;
  v -= 0.5;
  const int x = pil_floor(u), y = pil_floor(v);
  const double dx = u - x, dy = v - y;
  auto xclip = [&](int64_t i) { return std::clamp<int64_t>(i, 0, im.width - 1); };
  const int64_t x0 = xclip(x), x1 = xclip(x + 1);
  const int64_t y0 = std::clamp<int64_t>(y, 0, im.height - 1);
  const bool has_y1 = y + 1 >= 0 && y + 1 < im.height;
  for (int64_t c = 0; c < im.channels; ++c) {
    const uint8_t* r0 = im.pixel(y0, 0) + c;
    double v1 = r0[x0 * im.channels] + (r0[x1 * im.channels] - r0[x0 * im.channels]) * dx;
    double v2 = v1;
    if (has_y1) {
      const uint8_t* r1 = im.pixel(y + 1, 0) + c;
      v2 = r1[x0 * im.channels] + (r1[x1 * im.channels] - r1[x0 * im.channels]) * dx;
    }
    v1 = v1 + (v2 - v1) * dy;
    out[c] = uint8_t(v1);
  }
  return true;
}

// Pillow's BICUBIC macro: the cubic through v1..v4 at fraction d of the way from v2 to v3. (On
// 8-bit samples Pillow forms p2..p4 in int; in double they are the same exact integers.)
inline double cubic(double v1, double v2, double v3, double v4, double d) {
  const double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
  return p1 + d * (p2 + d * (p3 + d * p4));
}
// Pillow's bicubic_filter8 / bicubic_filter32RGB at input position (u, v).
bool sample_bicubic(const Image& im, double u, double v, uint8_t* out) {
  if (u < 0.0 || u >= double(im.width) || v < 0.0 || v >= double(im.height)) return false;
  u -= 0.5;
  v -= 0.5;
  int x = pil_floor(u), y = pil_floor(v);
  const double dx = u - x, dy = v - y;
  --x;
  --y;
  const int64_t C = im.channels;
  int64_t xs[4];
  for (int i = 0; i < 4; ++i) xs[i] = std::clamp<int64_t>(x + i, 0, im.width - 1) * C;
  auto row_value = [&](int64_t row, int64_t c) {
    const uint8_t* r = im.pixel(row, 0) + c;
    return cubic(r[xs[0]], r[xs[1]], r[xs[2]], r[xs[3]], dx);
  };
  auto in_rows = [&](int64_t row) { return row >= 0 && row < im.height; };
  for (int64_t c = 0; c < C; ++c) {
    const double v1 = row_value(std::clamp<int64_t>(y, 0, im.height - 1), c);
    const double v2 = in_rows(y + 1) ? row_value(y + 1, c) : v1;
    const double v3 = in_rows(y + 2) ? row_value(y + 2, c) : v2;
    const double v4 = in_rows(y + 3) ? row_value(y + 3, c) : v3;
    const double r = cubic(v1, v2, v3, v4, dy);
    out[c] = r <= 0.0 ? 0 : r >= 255.0 ? 255 : uint8_t(r);
  }
  return true;
}

// Pillow's ImagingGenericTransform with affine_transform and an interpolating filter.
template <typename Sample>
void warp_generic(const Image& src, Image& dst, const Matrix& a, Sample sample) {
  for (int64_t y = 0; y < dst.height; ++y) {
    for (int64_t x = 0; x < dst.width; ++x) {
      const double xin = x + 0.5, yin = y + 0.5;
      sample(src, a[0] * xin + a[1] * yin + a[2], a[3] * xin + a[4] * yin + a[5], dst.pixel(y, x));
    }
  }
}

// Image.transform(size, AFFINE, a, interpolation, fillcolor=fill).
Image warp_affine(const Image& src, ImageSize size, const Matrix& a, const WarpOptions& opt,
                  const char* op) {
  const std::vector<uint8_t> fill = detail::fill_per_channel(opt.fill, src.channels, op);
  Image dst(size.height, size.width, src.channels);
  for (int64_t i = 0; i < size.height * size.width; ++i) {
    std::memcpy(dst.data.data() + i * src.channels, fill.data(), fill.size());
  }
  switch (opt.interpolation) {
    case Interpolation::Bilinear:
      warp_generic(src, dst, a, sample_bilinear);
      break;
    case Interpolation::Bicubic:
      warp_generic(src, dst, a, sample_bicubic);
      break;
    case Interpolation::Nearest:
      if (a[1] == 0 && a[3] == 0) {
        warp_scale(src, dst, a);
      } else if (fits_fixed(a, 0, 0) && fits_fixed(a, size.width, size.height) &&
                 fits_fixed(a, 0, size.height) && fits_fixed(a, size.width, 0)) {
        warp_nearest_fixed(src, dst, a);
      } else {
        warp_nearest_float(src, dst, a);
      }
      break;
  }
  return dst;
}

// PIL's transpose(ROTATE_90 / ROTATE_180 / ROTATE_270): exact quarter turns, counter-clockwise.
Image quarter_turn(const Image& img, int quarters) {
  const int64_t H = img.height, W = img.width, C = img.channels;
  Image out = quarters % 2 ? Image(W, H, C) : Image(H, W, C);
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      uint8_t* o = quarters == 1   ? out.pixel(W - 1 - x, y)
                   : quarters == 2 ? out.pixel(H - 1 - y, W - 1 - x)
                                   : out.pixel(x, H - 1 - y);
      detail::copy_pixel(o, img.pixel(y, x), C);
    }
  }
  return out;
}

// a·x + b·y + c with PIL's operation order (Image.rotate's local transform()).
std::array<double, 2> apply(const Matrix& m, double x, double y) {
  return {m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]};
}

void check_warp(const Image& img, const WarpOptions& opt, const char* op) {
  detail::check_image(img, op);
  detail::fill_per_channel(opt.fill, img.channels, op);
}

}  // namespace

Image rotate(const Image& img, double angle, bool expand, const WarpOptions& opt) {
  check_warp(img, opt, "rotate");
  AFN_CHECK(std::isfinite(angle), "rotate: angle must be finite, got ", angle);
  angle = detail::py_mod(angle, 360.0);
  if (!opt.center) {  // PIL's exact fast paths, taken only about the default centre
    if (angle == 0) return img;
    if (angle == 180) return quarter_turn(img, 2);
    if ((angle == 90 || angle == 270) && (expand || img.width == img.height)) {
      return quarter_turn(img, angle == 90 ? 1 : 3);
    }
  }
  int64_t w = img.width, h = img.height;
  const auto [cx, cy] = opt.center.value_or(std::array<double, 2>{w / 2.0, h / 2.0});
  const double a = -detail::radians(angle);
  Matrix m = {detail::py_round(std::cos(a), 15),  detail::py_round(std::sin(a), 15), 0.0,
              detail::py_round(-std::sin(a), 15), detail::py_round(std::cos(a), 15), 0.0};
  const auto t = apply(m, -cx, -cy);
  m[2] = t[0] + cx;
  m[5] = t[1] + cy;
  if (expand) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (auto [x, y] :
         {std::array<double, 2>{0, 0}, {double(w), 0}, {double(w), double(h)}, {0, double(h)}}) {
      const auto p = apply(m, x, y);
      xmin = std::min(xmin, p[0]), xmax = std::max(xmax, p[0]);
      ymin = std::min(ymin, p[1]), ymax = std::max(ymax, p[1]);
    }
    const int64_t nw = int64_t(std::ceil(xmax)) - int64_t(std::floor(xmin));
    const int64_t nh = int64_t(std::ceil(ymax)) - int64_t(std::floor(ymin));
    const auto e = apply(m, -double(nw - w) / 2.0, -double(nh - h) / 2.0);
    m[2] = e[0];
    m[5] = e[1];
    w = nw;
    h = nh;
  }
  return warp_affine(img, {h, w}, m, opt, "rotate");
}

std::array<double, 6> inverse_affine_matrix(std::array<double, 2> center, const AffineParams& p) {
  // M = T·C·RSS·C⁻¹ with RSS = R(angle)·S(scale)·SHy(shear_y)·SHx(shear_x); its inverse is
  // C·RSS⁻¹·C⁻¹·T⁻¹, where RSS without the scale has determinant 1.
  const double rot = detail::radians(p.angle);
  const double sx = detail::radians(p.shear[0]), sy = detail::radians(p.shear[1]);
  const auto [cx, cy] = center;
  const auto [tx, ty] = p.translate;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  Matrix m = {d, -b, 0.0, -c, a, 0.0};
  for (double& v : m) v = v / p.scale;
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

Image affine(const Image& img, const AffineParams& p, const WarpOptions& opt) {
  check_warp(img, opt, "affine");
  AFN_CHECK(p.scale > 0.0, "affine: scale must be positive, got ", p.scale);
  const auto center = opt.center.value_or(std::array<double, 2>{img.width * 0.5, img.height * 0.5});
  return warp_affine(img, {img.height, img.width}, inverse_affine_matrix(center, p), opt, "affine");
}

// ---- random transforms ------------------------------------------------------------------------

namespace {

// torchvision's _setup_angle for a single number d: the range (-d, d), d >= 0.
std::array<double, 2> symmetric(double d, const char* op, const char* arg) {
  AFN_CHECK(d >= 0, op, ": if ", arg, " is a single number, it must be non-negative, got ", d);
  return {-d, d};
}

}  // namespace

RandomRotation::RandomRotation(double degrees, bool expand, WarpOptions opt)
    : RandomRotation(symmetric(degrees, "RandomRotation", "degrees"), expand, std::move(opt)) {}

RandomRotation::RandomRotation(std::array<double, 2> degrees, bool expand, WarpOptions opt)
    : degrees_(degrees), expand_(expand), opt_(std::move(opt)) {
  detail::check_range(degrees, "RandomRotation", "degrees");
  AFN_CHECK(opt_.fill.size() == 1 || opt_.fill.size() == 3,
            "RandomRotation: fill must have 1 or 3 values, got ", opt_.fill.size());
}

double RandomRotation::get_params(std::array<double, 2> degrees, Generator& gen) {
  return draw_uniform(gen, degrees[0], degrees[1]);
}

Image RandomRotation::operator()(const Image& img, Generator& gen) const {
  check_warp(img, opt_, "RandomRotation");
  return rotate(img, get_params(degrees_, gen), expand_, opt_);
}

RandomAffine::RandomAffine(double degrees, Options opt)
    : RandomAffine(symmetric(degrees, "RandomAffine", "degrees"), std::move(opt)) {}

RandomAffine::RandomAffine(std::array<double, 2> degrees, Options opt)
    : degrees_(degrees), opt_(std::move(opt)) {
  detail::check_range(degrees, "RandomAffine", "degrees");
  if (opt_.translate) {
    for (double t : *opt_.translate) {
      AFN_CHECK(t >= 0.0 && t <= 1.0, "RandomAffine: translate fractions must be in [0, 1], got ",
                t);
    }
  }
  if (opt_.scale) {
    detail::check_range(*opt_.scale, "RandomAffine", "scale");
    AFN_CHECK((*opt_.scale)[0] > 0, "RandomAffine: scale values must be positive, got ",
              (*opt_.scale)[0]);
  }
  const auto& s = opt_.shear;
  AFN_CHECK(s.size() <= 2 || s.size() == 4,
            "RandomAffine: shear must be a number or a sequence of 2 or 4 values, got ", s.size(),
            " values");
  if (s.size() == 1) {
    const auto r = symmetric(s[0], "RandomAffine", "shear");
    shear_ = {r[0], r[1]};
  } else {
    shear_ = s;
  }
  for (size_t i = 0; i < shear_.size(); i += 2) {
    detail::check_range({shear_[i], shear_[i + 1]}, "RandomAffine", "shear");
  }
  AFN_CHECK(opt_.warp.fill.size() == 1 || opt_.warp.fill.size() == 3,
            "RandomAffine: fill must have 1 or 3 values, got ", opt_.warp.fill.size());
}

AffineParams RandomAffine::get_params(std::array<double, 2> degrees,
                                      std::optional<std::array<double, 2>> translate,
                                      std::optional<std::array<double, 2>> scale,
                                      const std::vector<double>& shear, ImageSize img,
                                      Generator& gen) {
  AffineParams p;
  p.angle = draw_uniform(gen, degrees[0], degrees[1]);
  if (translate) {
    const double max_dx = (*translate)[0] * double(img.width);
    const double max_dy = (*translate)[1] * double(img.height);
    p.translate = {double(detail::py_round(draw_uniform(gen, -max_dx, max_dx))),
                   double(detail::py_round(draw_uniform(gen, -max_dy, max_dy)))};
  }
  if (scale) p.scale = draw_uniform(gen, (*scale)[0], (*scale)[1]);
  if (shear.size() >= 2) p.shear[0] = draw_uniform(gen, shear[0], shear[1]);
  if (shear.size() == 4) p.shear[1] = draw_uniform(gen, shear[2], shear[3]);
  return p;
}

Image RandomAffine::operator()(const Image& img, Generator& gen) const {
  check_warp(img, opt_.warp, "RandomAffine");
  const AffineParams p =
      get_params(degrees_, opt_.translate, opt_.scale, shear_, {img.height, img.width}, gen);
  return affine(img, p, opt_.warp);
}

}  // namespace afinar::data
