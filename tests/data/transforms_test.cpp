// Image transforms (include/afinar/data/transforms.h):
//  - hand-computed closed forms for each family (Pillow's bilinear weights, nearest positions,
//    crops, flips, exact rotations and translations, the colour formulas, ToTensor / Normalize);
//  - torchvision 0.14 + Pillow 9.4 goldens (tests/data/goldens/transforms.h5, made by
//    tools/goldens/transforms.py): every deterministic transform byte-exact, and the eval pipeline
//    Resize + CenterCrop + ToTensor + Normalize exact (hence within the required 1/255);
//  - the random transforms' parameter distributions against the distributions torchvision draws
//    from, with the statistical bound stated at each test, and reproducibility from a Generator;
//  - bad arguments throw afinar::Error naming the transform.
#include "afinar/data/transforms.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "afinar/data/auto_augment.h"
#include "afinar/io/hdf5.h"
#include "testing/compare.h"
#include "testing/fixtures.h"

namespace afinar::data {
namespace {

// ---- helpers ------------------------------------------------------------------------------------

Image make_image(int64_t h, int64_t w, int64_t c, const std::vector<int>& values) {
  Image img(h, w, c);
  EXPECT_EQ(values.size(), img.data.size());
  for (size_t i = 0; i < values.size(); ++i) img.data[i] = uint8_t(values[i]);
  return img;
}

// A deterministic RGB test pattern with distinct neighbouring values.
Image pattern(int64_t h, int64_t w, int64_t c = 3) {
  Image img(h, w, c);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t k = 0; k < c; ++k)
        img.pixel(y, x)[k] = uint8_t((x * 37 + y * 101 + k * 53) % 256);
    }
  }
  return img;
}

::testing::AssertionResult images_equal(const Image& actual, const Image& expected) {
  if (actual.height != expected.height || actual.width != expected.width ||
      actual.channels != expected.channels) {
    return ::testing::AssertionFailure() << "size " << actual.height << "x" << actual.width << "x"
                                         << actual.channels << " but expected " << expected.height
                                         << "x" << expected.width << "x" << expected.channels;
  }
  int64_t mismatches = 0, first = -1, max_diff = 0;
  for (size_t i = 0; i < actual.data.size(); ++i) {
    const int64_t d = std::abs(int64_t(actual.data[i]) - int64_t(expected.data[i]));
    if (d == 0) continue;
    if (first < 0) first = int64_t(i);
    ++mismatches;
    max_diff = std::max(max_diff, d);
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  const int64_t C = actual.channels, W = actual.width;
  return ::testing::AssertionFailure()
         << mismatches << " of " << actual.data.size() << " bytes differ (max |diff| " << max_diff
         << "), first at (y " << first / C / W << ", x " << first / C % W << ", c " << first % C
         << "): " << int(actual.data[size_t(first)]) << " vs " << int(expected.data[size_t(first)]);
}

// Bit-exact tensor equality, through compare.h's report of the worst element.
::testing::AssertionResult tensors_equal(const Tensor& actual, const Tensor& expected) {
  return testing::allclose(actual, expected, {0.0, 0.0});
}

// Expects fn() to throw afinar::Error whose message names `what`.
void expect_error(const std::function<void()>& fn, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown (expected one naming '" << what << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

// Kolmogorov-Smirnov distance between the empirical CDF of `xs` and U(lo, hi).
double ks_uniform(std::vector<double> xs, double lo, double hi) {
  std::sort(xs.begin(), xs.end());
  const double n = double(xs.size());
  double d = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double f = std::clamp((xs[i] - lo) / (hi - lo), 0.0, 1.0);
    d = std::max({d, std::abs(f - double(i) / n), std::abs(double(i + 1) / n - f)});
  }
  return d;
}
// The KS critical value at significance 0.001: P(D_n > 1.95/√n) < 0.001 for uniform samples.
double ks_bound(size_t n) {
  return 1.95 / std::sqrt(double(n));
}

// ---- goldens ------------------------------------------------------------------------------------

class Golden {
 public:
  Golden(const hdf5::File* f, std::string path) : f_(f), path_(std::move(path)) {}
  const std::string& name() const { return path_; }
  bool has(const char* key) const { return f_->has_attr(path_, key); }
  int64_t i(const char* key) const { return f_->read_attr_int(path_, key); }
  double d(const char* key) const { return f_->read_attr_double(path_, key); }
  std::vector<double> v(const char* key) const { return f_->read_attr_doubles(path_, key); }
  Interpolation interpolation() const { return Interpolation(i("interpolation")); }
  Image input() const;
  Image expected_image() const;
  Tensor expected_tensor() const { return f_->read_tensor(path_ + "/expected"); }

 private:
  const hdf5::File* f_;
  std::string path_;
};

Image image_of(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::U8);
  EXPECT_EQ(t.dim(), 3);
  Image img(t.size(0), t.size(1), t.size(2));
  img.data = t.to_vector<uint8_t>();
  return img;
}

const hdf5::File& golden_file() {
  static const hdf5::File f = hdf5::File::open(testing::test_data_path("goldens/transforms.h5"));
  return f;
}

Image Golden::input() const {
  return image_of(f_->read_tensor("/inputs/" + f_->read_attr_string(path_, "input")));
}
Image Golden::expected_image() const {
  return image_of(expected_tensor());
}

std::vector<Golden> goldens(const std::string& family) {
  std::vector<Golden> out;
  for (const auto& name : golden_file().list("/" + family)) {
    out.emplace_back(&golden_file(), "/" + family + "/" + name);
  }
  EXPECT_FALSE(out.empty()) << "no goldens for " << family;
  return out;
}

ImageSize size_hw(const Golden& g) {
  const auto v = g.v("size_hw");
  return {int64_t(v.at(0)), int64_t(v.at(1))};
}
CropBox box_of(const Golden& g) {
  const auto v = g.v("box");
  return {int64_t(v.at(0)), int64_t(v.at(1)), int64_t(v.at(2)), int64_t(v.at(3))};
}
WarpOptions warp_of(const Golden& g) {
  WarpOptions opt{.interpolation = g.interpolation()};
  if (g.has("fill")) {
    opt.fill.clear();
    for (double f : g.v("fill")) opt.fill.push_back(uint8_t(f));
  }
  if (g.has("center")) opt.center = {g.v("center").at(0), g.v("center").at(1)};
  return opt;
}

// ---- Resize -------------------------------------------------------------------------------------

TEST(Resize, BilinearMatchesHandComputedWeights) {
  // Upscale 2 -> 4: centres (i + 0.5)/2 = 0.25, 0.75, 1.25, 1.75; the triangle weights at the
  // pixel centres 0.5, 1.5 are (1), (3/4, 1/4), (1/4, 3/4), (1): 0, 63.75 -> 64, 191.25 -> 191,
  // 255.
  Image up = resize(make_image(1, 2, 1, {0, 255}), ImageSize{1, 4});
  EXPECT_TRUE(images_equal(up, make_image(1, 4, 1, {0, 64, 191, 255})));
  // Downscale 4 -> 2 (antialias): the triangle is stretched to support 2, centres 1 and 3 give
  // weights (3, 3, 1)/7 and (1, 3, 3)/7: (0 + 210 + 140)/7 = 50, (70 + 420 + 630)/7 = 160.
  Image down = resize(make_image(1, 4, 1, {0, 70, 140, 210}), ImageSize{1, 2});
  EXPECT_TRUE(images_equal(down, make_image(1, 2, 1, {50, 160})));
  // Vertical axis alike, channels independent.
  Image col =
      resize(make_image(4, 1, 3, {0, 0, 0, 70, 1, 7, 140, 2, 14, 210, 3, 21}), ImageSize{2, 1});
  EXPECT_TRUE(images_equal(col, make_image(2, 1, 3, {50, 1, 5, 160, 2, 16})));
}

TEST(Resize, NearestReadsFloorOfScaledCentre) {
  // out[i] = in[floor((i + 0.5)·in/out)]: 4 -> 2 reads 1, 3; 2 -> 5 reads 0, 0, 1, 1, 1.
  Image in = make_image(1, 4, 1, {10, 20, 30, 40});
  EXPECT_TRUE(images_equal(resize(in, ImageSize{1, 2}, Interpolation::Nearest),
                           make_image(1, 2, 1, {20, 40})));
  EXPECT_TRUE(
      images_equal(resize(make_image(1, 2, 1, {10, 20}), ImageSize{1, 5}, Interpolation::Nearest),
                   make_image(1, 5, 1, {10, 10, 20, 20, 20})));
}

TEST(Resize, ConstantImageStaysConstant) {
  // The weights are normalised to sum 1 in fixed point: a flat image stays flat for every filter
  // and factor, including bicubic's negative lobes.
  Image flat(37, 53, 3, 173);
  for (auto interp : {Interpolation::Nearest, Interpolation::Bilinear, Interpolation::Bicubic}) {
    for (ImageSize s : {ImageSize{11, 90}, ImageSize{100, 7}, ImageSize{37, 20}}) {
      EXPECT_TRUE(images_equal(resize(flat, s, interp), Image(s.height, s.width, 3, 173)));
    }
  }
}

TEST(Resize, OutputSizeFollowsTorchvision) {
  // Shorter side to `size`, longer int(size·long/short).
  EXPECT_EQ(resize_output_size({375, 500}, 256), (ImageSize{256, 341}));
  EXPECT_EQ(resize_output_size({500, 375}, 256), (ImageSize{341, 256}));
  EXPECT_EQ(resize_output_size({97, 131}, 64), (ImageSize{64, 86}));
  EXPECT_EQ(resize_output_size({300, 300}, 224), (ImageSize{224, 224}));
  // max_size: the longer side 341 > 300 is capped, the shorter becomes int(300·256/341) = 225.
  EXPECT_EQ(resize_output_size({375, 500}, 256, 300), (ImageSize{225, 300}));
  EXPECT_EQ(resize_output_size({375, 500}, 256, 400), (ImageSize{256, 341}));
  Image img = pattern(5, 5);
  EXPECT_TRUE(images_equal(resize(img, 5), img));  // same size: unchanged
}

TEST(Resize, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("resize")) {
    const Image in = g.input();
    const Image out = g.has("size_hw") ? resize(in, size_hw(g), g.interpolation())
                                       : resize(in, g.i("size"), g.interpolation(),
                                                g.has("max_size") ? std::optional(g.i("max_size"))
                                                                  : std::nullopt);
    EXPECT_TRUE(images_equal(out, g.expected_image())) << g.name();
  }
}

// ---- crops --------------------------------------------------------------------------------------

TEST(Crop, CopiesTheBoxAndZeroPadsOutside) {
  const Image img = pattern(6, 7);
  const CropBox box{-2, 3, 5, 6};  // rows -2..2, columns 3..8: partly above and right of the image
  const Image out = crop(img, box);
  ASSERT_EQ(out.height, 5);
  ASSERT_EQ(out.width, 6);
  for (int64_t y = 0; y < 5; ++y) {
    for (int64_t x = 0; x < 6; ++x) {
      const int64_t sy = y + box.top, sx = x + box.left;
      const bool inside = sy >= 0 && sy < 6 && sx >= 0 && sx < 7;
      for (int64_t c = 0; c < 3; ++c) {
        EXPECT_EQ(out.pixel(y, x)[c], inside ? img.pixel(sy, sx)[c] : 0) << y << "," << x;
      }
    }
  }
}

TEST(CenterCrop, OffsetsRoundHalfToEven) {
  // (9 - 4)/2 = 2.5 -> 2 and (10 - 3)/2 = 3.5 -> 4 (Python's round), so the crop starts at (2, 4).
  const Image img = pattern(9, 10);
  EXPECT_TRUE(images_equal(center_crop(img, {4, 3}), crop(img, {2, 4, 4, 3})));
  // Larger than the image: (8 - 5)//2 = 1 zero row above, 2 below; the width fits.
  const Image small = pattern(5, 7);
  EXPECT_TRUE(images_equal(center_crop(small, {8, 4}), crop(small, {-1, 2, 8, 4})));
  EXPECT_TRUE(images_equal(CenterCrop(4)(img), crop(img, {2, 3, 4, 4})));
}

TEST(CenterCrop, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("center_crop")) {
    EXPECT_TRUE(images_equal(center_crop(g.input(), size_hw(g)), g.expected_image())) << g.name();
  }
}

TEST(Crop, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("crop")) {
    EXPECT_TRUE(images_equal(crop(g.input(), box_of(g)), g.expected_image())) << g.name();
  }
}

TEST(ResizedCrop, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("resized_crop")) {
    const Image out = resized_crop(g.input(), box_of(g), size_hw(g), g.interpolation());
    EXPECT_TRUE(images_equal(out, g.expected_image())) << g.name();
  }
}

TEST(ResizedCrop, EqualsCropThenResize) {
  // The in-place resampling of a box inside the image reads the same pixels as PIL's crop.
  const Image img = pattern(40, 50);
  for (auto interp : {Interpolation::Nearest, Interpolation::Bilinear, Interpolation::Bicubic}) {
    const CropBox box{3, 7, 30, 25};
    EXPECT_TRUE(images_equal(resized_crop(img, box, {17, 23}, interp),
                             resize(crop(img, box), ImageSize{17, 23}, interp)));
  }
}

// ---- flips --------------------------------------------------------------------------------------

TEST(Flip, MirrorsPixels) {
  const Image img = pattern(3, 4);
  const Image h = hflip(img), v = vflip(img);
  for (int64_t y = 0; y < 3; ++y) {
    for (int64_t x = 0; x < 4; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        EXPECT_EQ(h.pixel(y, x)[c], img.pixel(y, 3 - x)[c]);
        EXPECT_EQ(v.pixel(y, x)[c], img.pixel(2 - y, x)[c]);
      }
    }
  }
  // The tensor flip reverses the last dimension.
  Tensor t = from_vector<float>({1, 2, 3, 4, 5, 6}, {1, 2, 3});
  EXPECT_EQ(hflip(t).to_vector<float>(), (std::vector<float>{3, 2, 1, 6, 5, 4}));
}

TEST(Flip, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("flip")) {
    const Image out = g.i("vertical") ? vflip(g.input()) : hflip(g.input());
    EXPECT_TRUE(images_equal(out, g.expected_image())) << g.name();
  }
}

// ---- rotate / affine ----------------------------------------------------------------------------

TEST(Rotate, QuarterTurnsAndHalfTurnsAreExact) {
  const Image sq = pattern(5, 5), wide = pattern(4, 6);
  // 90° counter-clockwise: out(y, x) = in(x, W - 1 - y).
  const Image r90 = rotate(sq, 90);
  for (int64_t y = 0; y < 5; ++y) {
    for (int64_t x = 0; x < 5; ++x) EXPECT_EQ(r90.pixel(y, x)[0], sq.pixel(x, 4 - y)[0]);
  }
  EXPECT_TRUE(images_equal(rotate(wide, 180), hflip(vflip(wide))));
  EXPECT_TRUE(images_equal(rotate(sq, -90), rotate(sq, 270)));
  EXPECT_TRUE(images_equal(rotate(sq, 360), sq));
  // About an explicit centre the fast path is skipped; the affine walk gives the same half turn.
  EXPECT_TRUE(images_equal(rotate(wide, 180, false, {.center = std::array<double, 2>{3, 2}}),
                           hflip(vflip(wide))));
}

TEST(Affine, IntegerTranslationShiftsPixels) {
  // out(y, x) = in(y - 2, x - 3), fill where that falls outside.
  const Image img = pattern(6, 8);
  const Image out = affine(img, {.translate = {3, 2}}, {.fill = {9, 8, 7}});
  for (int64_t y = 0; y < 6; ++y) {
    for (int64_t x = 0; x < 8; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        const bool inside = y >= 2 && x >= 3;
        EXPECT_EQ(out.pixel(y, x)[c], inside ? img.pixel(y - 2, x - 3)[c] : 9 - c);
      }
    }
  }
}

TEST(Affine, InverseMatrixUndoesTheForwardMap) {
  // M⁻¹ maps the image of a point under rotation + scale + shear + translation back to the point:
  // check M⁻¹·(T·C·RSS·C⁻¹·p) = p with the forward map built from its definition.
  const AffineParams p{.angle = 23, .translate = {4, -3}, .scale = 1.2, .shear = {7, -5}};
  const std::array<double, 2> c = {10, 6};
  const auto m = inverse_affine_matrix(c, p);
  const double pi = 3.14159265358979323846, rot = p.angle * pi / 180;
  const double sx = p.shear[0] * pi / 180, sy = p.shear[1] * pi / 180;
  // RSS = R(rot)·S(scale)·SHy(sy)·SHx(sx), SHx = [1 -tan(sx); 0 1], SHy = [1 0; -tan(sy) 1].
  const double r[4] = {std::cos(rot), -std::sin(rot), std::sin(rot), std::cos(rot)};
  const double shx[4] = {1, -std::tan(sx), 0, 1}, shy[4] = {1, 0, -std::tan(sy), 1};
  auto mul = [](const double* a, const double* b, double* o) {
    o[0] = a[0] * b[0] + a[1] * b[2], o[1] = a[0] * b[1] + a[1] * b[3];
    o[2] = a[2] * b[0] + a[3] * b[2], o[3] = a[2] * b[1] + a[3] * b[3];
  };
  double t1[4], rss[4];
  mul(shy, shx, t1);
  mul(r, t1, rss);
  for (double& v : rss) v *= p.scale;
  for (auto [x, y] : {std::array<double, 2>{0, 0}, {13.5, -2}, {3, 9}}) {
    const double fx = rss[0] * (x - c[0]) + rss[1] * (y - c[1]) + c[0] + p.translate[0];
    const double fy = rss[2] * (x - c[0]) + rss[3] * (y - c[1]) + c[1] + p.translate[1];
    EXPECT_NEAR(m[0] * fx + m[1] * fy + m[2], x, 1e-12);
    EXPECT_NEAR(m[3] * fx + m[4] * fy + m[5], y, 1e-12);
  }
}

TEST(Rotate, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("rotate")) {
    const Image out = rotate(g.input(), g.d("angle"), g.i("expand") != 0, warp_of(g));
    EXPECT_TRUE(images_equal(out, g.expected_image())) << g.name();
  }
}

TEST(Affine, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("affine")) {
    const auto t = g.v("translate"), s = g.v("shear");
    const AffineParams p{.angle = g.d("angle"),
                         .translate = {t.at(0), t.at(1)},
                         .scale = g.d("scale"),
                         .shear = {s.at(0), s.at(1)}};
    EXPECT_TRUE(images_equal(affine(g.input(), p, warp_of(g)), g.expected_image())) << g.name();
  }
}

// ---- colour -------------------------------------------------------------------------------------

TEST(AdjustColor, MatchesPillowFormulas) {
  // Brightness: trunc(f·x) in float, clamped above when f > 1.
  EXPECT_TRUE(images_equal(adjust_brightness(make_image(1, 2, 1, {201, 7}), 0.5),
                           make_image(1, 2, 1, {100, 3})));
  EXPECT_TRUE(images_equal(adjust_brightness(make_image(1, 2, 1, {200, 100}), 2.0),
                           make_image(1, 2, 1, {255, 200})));
  // Grey level L = (19595 R + 38470 G + 7471 B + 2^15) >> 16: (200, 100, 50) -> 124.
  const Image px = make_image(1, 1, 3, {200, 100, 50});
  EXPECT_TRUE(images_equal(to_grayscale(px), make_image(1, 1, 1, {124})));
  // Saturation 0 gives the grey image; contrast 0 the rounded mean grey level everywhere.
  EXPECT_TRUE(images_equal(adjust_saturation(px, 0.0), make_image(1, 1, 3, {124, 124, 124})));
  const Image two = make_image(1, 2, 3, {200, 100, 50, 0, 0, 1});  // L = 124 and 0: mean 62
  EXPECT_TRUE(images_equal(adjust_contrast(two, 0.0), Image(1, 2, 3, 62)));
  // Contrast 2 extrapolates from the mean and clamps: 62 + 2·(200 - 62) = 338 -> 255,
  // 62 + 2·(100 - 62) = 138, 62 + 2·(50 - 62) = 38, 62 + 2·(0 - 62) = -62 -> 0, 62 + 2·(1-62) -> 0.
  EXPECT_TRUE(
      images_equal(adjust_contrast(two, 2.0), make_image(1, 2, 3, {255, 138, 38, 0, 0, 0})));
  // Hue ±0.5 of pure red through PIL's 8-bit HSV: H 0 + 127 -> sector 2 with f = 127·6/255 - 2,
  // giving (0, 255, round(255·f)) = (0, 255, 252); H 0 + uint8(-127) = 129 -> (0, 246, 255).
  const Image red = make_image(1, 1, 3, {255, 0, 0});
  EXPECT_TRUE(images_equal(adjust_hue(red, 0.5), make_image(1, 1, 3, {0, 255, 252})));
  EXPECT_TRUE(images_equal(adjust_hue(red, -0.5), make_image(1, 1, 3, {0, 246, 255})));
  // Greys have no hue; grey (1-channel) images are left alone by saturation and hue.
  EXPECT_TRUE(images_equal(adjust_hue(Image(2, 2, 3, 77), 0.3), Image(2, 2, 3, 77)));
  const Image g = pattern(4, 5, 1);
  EXPECT_TRUE(images_equal(adjust_saturation(g, 1.7), g));
  EXPECT_TRUE(images_equal(adjust_hue(g, 0.2), g));
}

TEST(AdjustColor, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("color")) {
    const Image in = g.input();
    const double f = g.d("factor");
    Image out;
    switch (g.i("op")) {
      case 0:
        out = adjust_brightness(in, f);
        break;
      case 1:
        out = adjust_contrast(in, f);
        break;
      case 2:
        out = adjust_saturation(in, f);
        break;
      case 3:
        out = adjust_hue(in, f);
        break;
      default:
        out = to_grayscale(in);
        break;
    }
    EXPECT_TRUE(images_equal(out, g.expected_image())) << g.name();
  }
}

TEST(ColorJitter, AppliesAdjustmentsInTheDrawnOrder) {
  for (const Golden& g : goldens("color_jitter")) {
    const auto order = g.v("order"), f = g.v("factors");
    ColorJitter::Params p;
    for (size_t k = 0; k < 4; ++k) p.order[k] = int(order.at(k));
    p.brightness = f.at(0), p.contrast = f.at(1), p.saturation = f.at(2), p.hue = f.at(3);
    EXPECT_TRUE(images_equal(ColorJitter::apply(g.input(), p), g.expected_image())) << g.name();
  }
}

// ---- tensors ------------------------------------------------------------------------------------

TEST(ToTensor, ConvertsHwcBytesToChwUnitFloats) {
  const Image img = make_image(1, 2, 3, {0, 51, 255, 10, 20, 30});
  Tensor t = to_tensor(img);
  EXPECT_EQ(t.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_EQ(t.to_vector<float>(),
            (std::vector<float>{0.0f, 10 / 255.0f, 51 / 255.0f, 20 / 255.0f, 1.0f, 30 / 255.0f}));
}

TEST(Normalize, SubtractsMeanDividesStd) {
  Tensor x = from_vector<float>({0.5f, 1.0f, 0.25f, 0.0f}, {2, 1, 2});
  Tensor y = normalize(x, {0.5, 0.25}, {0.5, 0.125});
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0.0f, 1.0f, 0.0f, -2.0f}));
  // Batched [N, C, H, W] and a single value broadcast over channels.
  Tensor xb = from_vector<double>({1, 2, 3, 4}, {2, 2, 1, 1});
  EXPECT_EQ(normalize(xb, {1.0}, {2.0}).to_vector<double>(), (std::vector<double>{0, 0.5, 1, 1.5}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0.5f, 1.0f, 0.25f, 0.0f}));  // not in place
}

TEST(ToTensor, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("to_tensor")) {
    EXPECT_TRUE(tensors_equal(to_tensor(g.input()), g.expected_tensor())) << g.name();
  }
}

TEST(Normalize, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("normalize")) {
    Tensor y = normalize(to_tensor(g.input()), g.v("mean"), g.v("std"));
    EXPECT_TRUE(tensors_equal(y, g.expected_tensor())) << g.name();
  }
}

TEST(Erase, WritesValueIntoTheBox) {
  Tensor x = zeros({2, 3, 4});
  Tensor y = erase(x, {1, 1, 2, 2}, from_vector<float>({5, 7}, {2, 1, 1}));
  std::vector<float> expected(24, 0.0f);
  for (int c = 0; c < 2; ++c) {
    for (int r = 1; r < 3; ++r) {
      for (int col = 1; col < 3; ++col) expected[size_t(c * 12 + r * 4 + col)] = c ? 7.0f : 5.0f;
    }
  }
  EXPECT_EQ(y.to_vector<float>(), expected);
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(24, 0.0f));  // not in place
}

TEST(Erase, MatchesTorchvisionGolden) {
  for (const Golden& g : goldens("erase")) {
    const auto v = g.v("value");
    Tensor value = from_vector<float>({float(v.at(0)), float(v.at(1)), float(v.at(2))}, {3, 1, 1});
    Tensor y = erase(to_tensor(g.input()), box_of(g), value);
    EXPECT_TRUE(tensors_equal(y, g.expected_tensor())) << g.name();
  }
}

// ---- pipelines ----------------------------------------------------------------------------------

TEST(EvalTransform, MatchesTorchvisionGolden) {
  // Resize(256) + CenterCrop(224) byte-exact, and the whole eval pipeline with ToTensor and
  // Normalize exact, for both crop modes: stronger than the required 1/255 per pixel.
  Generator gen(0);
  for (const Golden& g : goldens("eval_u8")) {
    Compose c;
    c.then(Resize(g.i("resize"))).then(CenterCrop(g.i("crop")));
    EXPECT_TRUE(images_equal(c.apply_image(g.input(), gen), g.expected_image())) << g.name();
  }
  for (const Golden& g : goldens("eval")) {
    const Preprocessing p{.resize = g.i("resize"),
                          .crop = g.i("crop"),
                          .crop_mode = g.i("squash") ? CropMode::Squash : CropMode::Center,
                          .mean = g.v("mean"),
                          .std = g.v("std")};
    Tensor y = eval_transform(p)(g.input(), gen);
    EXPECT_TRUE(tensors_equal(y, g.expected_tensor())) << g.name();
  }
}

TEST(EvalTransform, EqualsResizeThenCenterCrop) {
  // eval_transform resamples only the pixels CenterCrop keeps; it must give the bytes of the two
  // steps run one after the other, for odd offsets, one-axis resizes and crops that need padding,
  // with each interpolation.
  Generator gen(0);
  for (auto [h, w, size, crop] : std::vector<std::array<int64_t, 4>>{{375, 500, 256, 224},
                                                                     {500, 375, 256, 224},
                                                                     {97, 131, 64, 41},
                                                                     {64, 99, 64, 37},
                                                                     {99, 64, 64, 37},
                                                                     {40, 40, 64, 64},
                                                                     {30, 50, 20, 27},
                                                                     {33, 17, 8, 8}}) {
    const Image img = pattern(h, w);
    for (auto mode : {Interpolation::Nearest, Interpolation::Bilinear, Interpolation::Bicubic}) {
      Compose steps;
      steps.then(Resize(size, mode))
          .then(CenterCrop(crop))
          .then(Normalize(kImageNetMean, kImageNetStd));
      const Preprocessing p{.resize = size, .crop = crop, .interpolation = mode};
      EXPECT_TRUE(tensors_equal(eval_transform(p)(img, gen), steps(img, gen)))
          << h << "x" << w << " -> " << size << " / " << crop << " " << interpolation_name(mode);
    }
  }
}

TEST(TrainTransform, IsReproducibleFromTheGeneratorState) {
  const Image img = pattern(120, 160);
  const Compose t = train_transform(heavy_augmentation());
  EXPECT_EQ(t.size(), 7u);  // 5 image steps, Normalize, RandomErasing
  Generator a(42), b(42), other(43);
  const Tensor ya = t(img, a), yb = t(img, b), yo = t(img, other);
  EXPECT_EQ(ya.shape(), (Shape{3, 224, 224}));
  EXPECT_TRUE(tensors_equal(ya, yb));
  EXPECT_NE(ya.to_vector<float>(), yo.to_vector<float>());
  // The output depends on (seed, offset) alone: restoring a state replays the same sample.
  Generator g(7);
  g.set_state(7, 1000);
  const Tensor first = t(img, g);
  g.set_state(7, 1000);
  EXPECT_TRUE(tensors_equal(t(img, g), first));
  EXPECT_NE(t(img, g).to_vector<float>(), first.to_vector<float>());  // the state moved on
}

// An auto_augment policy runs after the flip, drawing from the same generator; the crop and the
// policy resample with the options' interpolation (bilinear, or bicubic here).
TEST(TrainTransform, RunsTheAutoAugmentPolicyAfterTheFlip) {
  TrainTransformOptions o{.crop = 48, .auto_augment = "ta_wide"};
  EXPECT_EQ(train_transform_str(o),
            "RandomResizedCrop(48, scale=(0.08, 1), ratio=(0.75, 1.33333)) -> "
            "RandomHorizontalFlip(p=0.5) -> TrivialAugmentWide(num_magnitude_bins=31, "
            "interpolation=bilinear) -> ToTensor -> Normalize");
  const Image img = pattern(60, 80);
  for (Interpolation mode : {Interpolation::Bilinear, Interpolation::Bicubic}) {
    o.interpolation = mode;
    for (const char* policy : {"ta_wide", "ra", "imagenet", "cifar10"}) {
      o.auto_augment = policy;
      const Compose t = train_transform(o);
      EXPECT_EQ(t.size(), 4u) << policy;  // crop, flip, the policy, Normalize
      // The policy's own draws follow the crop's and the flip's.
      for (uint64_t seed = 0; seed < 5; ++seed) {
        Generator a(seed), b(seed);
        const RandomResizedCrop crop(48, {.interpolation = mode});
        Image steps = RandomHorizontalFlip(0.5)(crop(img, b), b);
        steps = auto_augment_transform(policy, 9, mode)(steps, b);
        EXPECT_EQ(t.apply_image(img, a).data, steps.data) << policy << " " << seed;
      }
    }
  }
  EXPECT_EQ(train_transform_str(o),
            "RandomResizedCrop(48, scale=(0.08, 1), ratio=(0.75, 1.33333), interpolation=bicubic) "
            "-> RandomHorizontalFlip(p=0.5) -> AutoAugment(policy=cifar10, interpolation=bicubic) "
            "-> ToTensor -> Normalize");
}

TEST(Compose, RunsImageStepsThenToTensorThenTensorSteps) {
  Compose c;
  c.then(ImageTransform([](const Image& img, Generator&) {
     return hflip(img);
   })).then(TensorTransform([](const Tensor& t, Generator&) { return normalize(t, {0}, {0.5}); }));
  Generator gen(0);
  const Image img = make_image(1, 2, 1, {51, 102});
  EXPECT_EQ(c(img, gen).to_vector<float>(),
            (std::vector<float>{102 / 255.0f / 0.5f, 51 / 255.0f / 0.5f}));
  expect_error([&] { c.then(Resize(4)); }, "Compose");
}

// ---- random parameters --------------------------------------------------------------------------

TEST(RandomResizedCrop, ParamsFollowTorchvisionDistributions) {
  // On a 1000x1000 image with scale (0.08, 0.5) every first try fits (w, h <= √(0.5·4/3)·1000 =
  // 816), so the area fraction h·w/A is U(0.08, 0.5) and log(w/h) is U(log 3/4, log 4/3) up to the
  // rounding of w and h (relative error <= 0.5/245, moving each CDF by < 0.005 and 0.007). Bound:
  // KS distance <= 1.95/√n (significance 0.001) + the rounding allowance.
  const size_t n = 20000;
  const ImageSize in{1000, 1000};
  const std::array<double, 2> scale = {0.08, 0.5}, ratio = {3.0 / 4.0, 4.0 / 3.0};
  Generator gen(123);
  std::vector<double> area, log_ratio, top_frac;
  for (size_t k = 0; k < n; ++k) {
    const CropBox b = RandomResizedCrop::get_params(in, scale, ratio, gen);
    ASSERT_TRUE(b.top >= 0 && b.left >= 0 && b.top + b.height <= 1000 && b.left + b.width <= 1000);
    area.push_back(double(b.height * b.width) / 1e6);
    log_ratio.push_back(std::log(double(b.width) / double(b.height)));
    if (b.height < 1000) top_frac.push_back(double(b.top) / double(1000 - b.height));
  }
  EXPECT_LT(ks_uniform(area, 0.08, 0.5), ks_bound(n) + 0.005);
  EXPECT_LT(ks_uniform(log_ratio, std::log(0.75), std::log(4.0 / 3.0)), ks_bound(n) + 0.007);
  // The top offset is uniform over its range (up to the discreteness of the integers, < 1/184).
  EXPECT_LT(ks_uniform(top_frac, 0.0, 1.0), ks_bound(top_frac.size()) + 1.0 / 184);
}

TEST(RandomResizedCrop, FallsBackToTheCentralCropClampedToRatio) {
  // An unreachable scale makes all 10 tries fail.
  Generator gen(1);
  const std::array<double, 2> scale = {2, 3}, ratio = {3.0 / 4.0, 4.0 / 3.0};
  // Too wide (3 > 4/3): full height, w = round(100·4/3) = 133, centred: (300 - 133)//2 = 83.
  EXPECT_EQ(RandomResizedCrop::get_params({100, 300}, scale, ratio, gen),
            (CropBox{0, 83, 100, 133}));
  EXPECT_EQ(RandomResizedCrop::get_params({300, 100}, scale, ratio, gen),
            (CropBox{83, 0, 133, 100}));
  EXPECT_EQ(RandomResizedCrop::get_params({100, 120}, scale, ratio, gen),
            (CropBox{0, 0, 100, 120}));
}

TEST(RandomResizedCrop, OutputHasTheRequestedSize) {
  Generator gen(5);
  const RandomResizedCrop t({30, 40}, RandomResizedCrop::Options{});
  for (int k = 0; k < 50; ++k) {
    const Image out = t(pattern(23 + k, 71 - k), gen);
    EXPECT_EQ(out.height, 30);
    EXPECT_EQ(out.width, 40);
  }
}

// Binomial: |fraction - p| < 5σ, σ = √(p(1-p)/n) (a 6e-7 two-sided chance of a false alarm).
template <typename Flip>
void expect_flips_with_probability(const Image& img) {
  const size_t n = 4000;
  for (double p : {0.0, 0.3, 1.0}) {
    Generator gen(9);
    const Flip t(p);
    size_t flips = 0;
    for (size_t k = 0; k < n; ++k) flips += t(img, gen).data[0] == 2;
    EXPECT_NEAR(double(flips) / n, p, 5 * std::sqrt(p * (1 - p) / n) + 1e-12) << p;
  }
}

TEST(RandomHorizontalFlip, FlipsWithProbabilityP) {
  expect_flips_with_probability<RandomHorizontalFlip>(make_image(1, 2, 1, {1, 2}));
}

TEST(RandomVerticalFlip, FlipsWithProbabilityP) {
  expect_flips_with_probability<RandomVerticalFlip>(make_image(2, 1, 1, {1, 2}));
}

TEST(RandomRotation, AngleIsUniformOverDegrees) {
  const size_t n = 20000;
  Generator gen(3);
  std::vector<double> a;
  for (size_t k = 0; k < n; ++k) a.push_back(RandomRotation::get_params({-15, 15}, gen));
  EXPECT_GE(*std::min_element(a.begin(), a.end()), -15.0);
  EXPECT_LT(*std::max_element(a.begin(), a.end()), 15.0);
  EXPECT_LT(ks_uniform(a, -15, 15), ks_bound(n));
}

TEST(RandomAffine, ParamsFollowTorchvisionDistributions) {
  // Seed 003: degrees 0, translate (0.1, 0.1), shear 10 on a 160x120 (W x H) image: tx is
  // round(U(-16, 16)), ty round(U(-12, 12)), shear_x U(-10, 10), no shear_y, scale 1.
  const size_t n = 20000;
  Generator gen(11);
  std::vector<double> shear, tx;
  for (size_t k = 0; k < n; ++k) {
    const AffineParams p = RandomAffine::get_params({0, 0}, std::array<double, 2>{0.1, 0.1}, {},
                                                    {-10, 10}, {120, 160}, gen);
    ASSERT_EQ(p.angle, 0.0);
    ASSERT_EQ(p.scale, 1.0);
    ASSERT_EQ(p.shear[1], 0.0);
    ASSERT_EQ(p.translate[0], std::round(p.translate[0]));
    ASSERT_LE(std::abs(p.translate[0]), 16);
    ASSERT_LE(std::abs(p.translate[1]), 12);
    shear.push_back(p.shear[0]);
    tx.push_back(p.translate[0]);
  }
  EXPECT_LT(ks_uniform(shear, -10, 10), ks_bound(n));
  // round(U(-16, 16)) is 0 with probability 1/32 and ±16 with 1/64 each (half-width end cells).
  const double zero = double(std::count(tx.begin(), tx.end(), 0.0)) / n;
  EXPECT_NEAR(zero, 1.0 / 32, 5 * std::sqrt(1.0 / 32 * (31.0 / 32) / n));
}

TEST(ColorJitter, ParamsFollowTorchvisionDistributions) {
  // Each adjustment lands in each of the 4 positions with probability 1/4 (5σ bound), factors are
  // uniform on [1 - v, 1 + v] ([-h, h] for hue).
  const size_t n = 8000;
  Generator gen(21);
  const ColorJitter::Range b = std::array<double, 2>{0.7, 1.3},
                           h = std::array<double, 2>{-0.1, 0.1};
  int count[4][4] = {};
  std::vector<double> fb, fh;
  for (size_t k = 0; k < n; ++k) {
    const auto p = ColorJitter::get_params(b, b, b, h, gen);
    std::array<int, 4> sorted = p.order;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, (std::array<int, 4>{0, 1, 2, 3}));
    for (int pos = 0; pos < 4; ++pos) ++count[p.order[size_t(pos)]][pos];
    fb.push_back(*p.brightness);
    fh.push_back(*p.hue);
  }
  const double tol = 5 * std::sqrt(0.25 * 0.75 / n);
  for (auto& op : count) {
    for (int c : op) EXPECT_NEAR(double(c) / n, 0.25, tol);
  }
  EXPECT_LT(ks_uniform(fb, 0.7, 1.3), ks_bound(n));
  EXPECT_LT(ks_uniform(fh, -0.1, 0.1), ks_bound(n));
  // Disabled ranges draw nothing.
  const auto none = ColorJitter::get_params({}, {}, {}, {}, gen);
  EXPECT_FALSE(none.brightness || none.contrast || none.saturation || none.hue);
}

TEST(RandomErasing, ErasesWithProbabilityPInsideTheImage) {
  const size_t n = 4000;
  Generator gen(31);
  const RandomErasing t({.p = 0.2, .value = {-9.0f}});
  const Tensor x = zeros({3, 40, 50});
  size_t erased = 0;
  for (size_t k = 0; k < n; ++k) erased += t(x, gen).to_vector<float>() != x.to_vector<float>();
  // Binomial 5σ bound. Every applied erase changes the image: the smallest box (area 40, ratio
  // 3.3) is 11x4, and all 10 tries failing (only large areas at extreme ratios overflow) is
  // negligible.
  EXPECT_NEAR(double(erased) / n, 0.2, 5 * std::sqrt(0.2 * 0.8 / n));
  // Boxes stay strictly smaller than the image and their area fraction within the scale range up
  // to the rounding of h and w.
  for (size_t k = 0; k < 2000; ++k) {
    const auto b = RandomErasing::get_params({40, 50}, {0.02, 0.33}, {0.3, 3.3}, gen);
    if (!b) continue;
    ASSERT_TRUE(b->height < 40 && b->width < 50 && b->top + b->height <= 40 &&
                b->left + b->width <= 50);
    const double f = double(b->height * b->width) / 2000.0;
    const double slack = (b->height + b->width + 1) / 2000.0;  // >= |(h ± ½)(w ± ½) - h·w|/A
    EXPECT_TRUE(f >= 0.02 - slack && f <= 0.33 + slack) << f;
  }
}

// ---- bad arguments ------------------------------------------------------------------------------

TEST(Transforms, BadArgumentsThrowNamingTheTransform) {
  const Image img = pattern(10, 12);
  expect_error([] { Resize(0); }, "Resize");
  expect_error([] { Resize(-3); }, "Resize");
  expect_error([] { Resize(ImageSize{0, 5}); }, "Resize");
  expect_error([] { Resize(256, Interpolation::Bilinear, 200); }, "max_size");
  expect_error([&] { resize(img, 0); }, "resize");
  expect_error([] { CenterCrop(0); }, "CenterCrop");
  expect_error([&] { crop(img, {0, 0, 0, 5}); }, "crop");
  expect_error([] { RandomResizedCrop(224, {.scale = {1.0, 0.5}}); }, "scale");
  expect_error([] { RandomResizedCrop(224, {.ratio = {4.0 / 3, 3.0 / 4}}); }, "ratio");
  expect_error([] { RandomResizedCrop(0); }, "RandomResizedCrop");
  expect_error([] { RandomHorizontalFlip(1.5); }, "RandomHorizontalFlip");
  expect_error([] { RandomHorizontalFlip(-0.1); }, "RandomHorizontalFlip");
  expect_error([] { RandomVerticalFlip(1.1); }, "RandomVerticalFlip");
  expect_error([] { RandomRotation(-5); }, "RandomRotation");
  expect_error([] { RandomRotation(std::array<double, 2>{10, -10}); }, "degrees");
  expect_error([] { RandomAffine(0, {.translate = std::array<double, 2>{1.5, 0}}); }, "translate");
  expect_error([] { RandomAffine(0, {.shear = {1, 2, 3}}); }, "shear");
  expect_error([] { RandomAffine(0, {.scale = std::array<double, 2>{0, 1}}); }, "scale");
  expect_error([] { ColorJitter(-0.1); }, "brightness");
  expect_error([] { ColorJitter(0, 0, 0, 0.7); }, "hue");
  expect_error([&] { adjust_hue(img, 0.6); }, "adjust_hue");
  expect_error([&] { adjust_brightness(img, -1); }, "adjust_brightness");
  expect_error([] { RandomErasing({.p = 2}); }, "RandomErasing");
  expect_error([] { RandomErasing({.scale = {0.1, 1.5}}); }, "RandomErasing");
  expect_error([] { RandomErasing({.ratio = {3.3, 0.3}}); }, "ratio");
  expect_error([&] { rotate(img, 10, false, {.fill = {1, 2}}); }, "fill");
  expect_error([&] { affine(img, {.scale = 0}); }, "scale");
  expect_error([] { resize(Image(4, 4, 2), 2); }, "channels");
  expect_error([] { resize(Image(), 2); }, "empty");
  expect_error([] { normalize(zeros({3, 4, 4}, DType::U8), {0.5}, {0.5}); }, "normalize");
  expect_error([] { normalize(zeros({3, 4, 4}), {0.5, 0.5}, {0.5}); }, "mean");
  expect_error([] { normalize(zeros({3, 4, 4}), {0.5}, {0.0}); }, "zero");
  expect_error([] { normalize(zeros({4, 4}), {0.5}, {0.5}); }, "normalize");
  expect_error([] { erase(zeros({3, 4, 4}), {2, 2, 3, 1}, zeros({3, 1, 1})); }, "erase");
  expect_error(
      [] {
        RandomErasing({.p = 1, .value = {1, 2}})(zeros({3, 8, 8}), default_generator());
      },
      "RandomErasing");
}

}  // namespace
}  // namespace afinar::data

namespace afinar::data {
namespace {

// The RGB resize has a vectorised path and 1-channel images take the plain loop: resizing an RGB
// image must equal resizing each of its channels alone, on random sizes (odd widths, up- and
// downscaling, crop boxes touching the bottom-right corner, where the vector path must not read
// past the image). Pillow's arithmetic is per channel, so any difference is a bug in one path.
TEST(Resize, RgbPathMatchesPerChannelPath) {
  Generator gen(2024);
  auto draw = [&](int64_t lo, int64_t hi) {
    return lo + int64_t(uniform({1}, 0, double(hi - lo + 1), DType::F64, gen).item<double>());
  };
  for (int trial = 0; trial < 300; ++trial) {
    Image rgb(draw(1, 90), draw(1, 90), 3);
    for (auto& v : rgb.data) v = uint8_t(draw(0, 255));
    const ImageSize out{draw(1, 120), draw(1, 120)};
    const int64_t top = draw(0, rgb.height - 1), left = draw(0, rgb.width - 1);
    const CropBox box{top, left, rgb.height - top, rgb.width - left};  // ends at the corner
    for (Interpolation interp :
         {Interpolation::Bilinear, Interpolation::Bicubic, Interpolation::Nearest}) {
      const Image got = resized_crop(rgb, box, out, interp);
      for (int64_t c = 0; c < 3; ++c) {
        Image plane(rgb.height, rgb.width, 1);
        for (int64_t i = 0; i < rgb.height * rgb.width; ++i)
          plane.data[size_t(i)] = rgb.data[size_t(i * 3 + c)];
        const Image want = resized_crop(plane, box, out, interp);
        ASSERT_EQ(got.height, want.height);
        ASSERT_EQ(got.width, want.width);
        for (int64_t i = 0; i < want.height * want.width; ++i)
          ASSERT_EQ(got.data[size_t(i * 3 + c)], want.data[size_t(i)])
              << "trial " << trial << " channel " << c << " pixel " << i << " input " << rgb.height
              << "x" << rgb.width << " box " << top << "," << left << " output " << out.height
              << "x" << out.width << " interpolation " << int(interp);
      }
    }
  }
}

}  // namespace
}  // namespace afinar::data
