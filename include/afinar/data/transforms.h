// torchvision-equivalent image transforms (torchvision 0.14 on PIL images, Pillow 9.4 arithmetic).
//
// Geometry and colour work on an 8-bit Image (H×W×C, PIL's layout) and reproduce Pillow's integer
// arithmetic, so their outputs equal torchvision's byte for byte; ToTensor turns the Image into a
// float32 [C,H,W] tensor in [0, 1], after which Normalize and RandomErasing work on the tensor.
// Images have 1 (PIL "L") or 3 (PIL "RGB") channels.
//
//   Generator gen(seed);                       // the loader derives one per (seed, epoch, index)
//   Compose train = train_transform();         // RandomResizedCrop(224) + flip + Normalize
//   Tensor x = train(image, gen);              // float32 [3,224,224]
//   Tensor y = eval_transform()(image, gen);   // Resize(256) + CenterCrop(224) + Normalize
//
// The math, per family (Pillow's C sources name the routines this code follows):
//   resize      separable two-pass resampling (horizontal, then vertical, each rounded to 8 bits).
//               Output pixel i of a pass of scale s = in/out is Σ_k w_k·x_k over the input pixels
//               k within support·max(s, 1) of c = (i + 0.5)·s, w_k = f((k + 0.5 - c)/max(s, 1))
//               normalised to Σ w_k = 1 and converted to 22-bit fixed point (Resample.c): f is the
//               triangle (bilinear, support 1) or Keys' cubic with a = -0.5 (bicubic, support 2),
//               so a downscale averages over a support that grows with the factor (antialias).
//               Nearest samples x[⌊(i + 0.5)·s⌋] (ImagingScaleAffine).
//   rotate / affine  inverse mapping: output pixel (x, y) reads the input at M·(x + 0.5, y + 0.5)
//               with M the inverse affine matrix (torchvision's _get_inverse_affine_matrix, or
//               PIL's Image.rotate matrix); nearest uses Pillow's 16.16 fixed-point walk, bilinear
//               and bicubic its per-pixel filters; pixels mapped outside the input get `fill`.
//   colour      Pillow's ImageEnhance: out = degenerate + f·(img - degenerate) in float, truncated
//               to 8 bits (clamped when f > 1), with degenerate = black (brightness), the rounded
//               mean grey level (contrast), the image's grey version L = (19595 R + 38470 G +
//               7471 B + 2^15) >> 16 (saturation); hue shifts H of PIL's 8-bit HSV by
//               uint8(hue·255) (mod 256).
//   tensor      to_tensor: x/255 (float32); normalize: (x - mean_c)/std_c; erase: a box := value.
//
// Randomness: every random transform draws from the Generator it is given (one Philox block per
// draw, see include/afinar/core/rng.h), never from global state, so a sample's augmentation is a
// function of its generator's (seed, offset) alone. Torch's random numbers are not reproduced:
// each transform's deterministic core (resized_crop, rotate, affine, adjust_*) equals
// torchvision's for the same parameters, and the parameters follow torchvision's distributions
// (get_params below mirrors each transform's get_params).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "afinar/core/rng.h"
#include "afinar/core/tensor.h"
#include "afinar/data/image.h"
#include "afinar/data/preprocessing.h"

namespace afinar::data {

struct ImageSize {
  int64_t height = 0;
  int64_t width = 0;
  bool operator==(const ImageSize&) const = default;
};

// A crop rectangle: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int64_t top = 0;
  int64_t left = 0;
  int64_t height = 0;
  int64_t width = 0;
  bool operator==(const CropBox&) const = default;
};

// ---- deterministic functions (torchvision.transforms.functional) --------------------------------

// Output size of resize(size) for an input of size `in` (torchvision's
// _compute_resized_output_size): the shorter side becomes `size`, the longer side
// int(size · long / short); with max_size, a longer side above max_size is set to max_size and the
// shorter scaled to int(max_size · short / long).
ImageSize resize_output_size(ImageSize in, int64_t size, std::optional<int64_t> max_size = {});
// Shorter side to `size`, keeping the aspect ratio as above (Resize(int)).
Image resize(const Image& img, int64_t size, Interpolation interpolation = Interpolation::Bilinear,
             std::optional<int64_t> max_size = {});
// Exactly size.height × size.width (Resize((h, w))).
Image resize(const Image& img, ImageSize size,
             Interpolation interpolation = Interpolation::Bilinear);
// PIL's crop: pixels of the box that fall outside the image are 0.
Image crop(const Image& img, const CropBox& box);
// The centred size.height × size.width crop; offsets round((H - h)/2) with Python's round (half to
// even); a crop larger than the image pads it with 0 first, as torchvision does.
Image center_crop(const Image& img, ImageSize size);
// crop then resize (RandomResizedCrop's deterministic core).
Image resized_crop(const Image& img, const CropBox& box, ImageSize size,
                   Interpolation interpolation = Interpolation::Bilinear);
Image hflip(const Image& img);
Image vflip(const Image& img);
// Flips the last dimension of a tensor image [..., H, W] (test-time augmentation on tensors).
Tensor hflip(const Tensor& img);

// Options shared by rotate and affine. fill: 1 value (every channel) or one per channel.
struct WarpOptions {
  Interpolation interpolation = Interpolation::Nearest;
  std::vector<uint8_t> fill = {0};
  std::optional<std::array<double, 2>> center = {};  // (x, y); default the image centre (W/2, H/2)
};
// Counter-clockwise rotation by `angle` degrees (PIL's Image.rotate). expand: the output grows to
// hold the whole rotated image (the rotation is then about the centre).
Image rotate(const Image& img, double angle, bool expand = false, const WarpOptions& opt = {});
// The parameters of torchvision's affine: rotation `angle` (degrees, clockwise), post-rotation
// `translate` (x, y) in pixels, `scale`, and shear angles (x, y) in degrees.
struct AffineParams {
  double angle = 0;
  std::array<double, 2> translate = {0, 0};
  double scale = 1;
  std::array<double, 2> shear = {0, 0};
};
Image affine(const Image& img, const AffineParams& p, const WarpOptions& opt = {});
// The 2×3 matrix mapping output pixel coordinates to input coordinates (row-major [a b c; d e f]),
// torchvision's _get_inverse_affine_matrix about `center` (x, y).
std::array<double, 6> inverse_affine_matrix(std::array<double, 2> center, const AffineParams& p);

// Colour (PIL's ImageEnhance; factor 1 returns the image unchanged). factor >= 0.
Image adjust_brightness(const Image& img, double factor);
Image adjust_contrast(const Image& img, double factor);
Image adjust_saturation(const Image& img, double factor);
// hue_factor in [-0.5, 0.5]: the fraction of the hue circle to rotate by.
Image adjust_hue(const Image& img, double hue_factor);
// PIL's ImageEnhance.Sharpness: the blend with the image smoothed by ImageFilter.SMOOTH (3×3
// [1 1 1; 1 5 1; 1 1 1] / 13, border pixels kept); 0 blurs, 2 sharpens.
Image adjust_sharpness(const Image& img, double factor);

// Tone (PIL's ImageOps, one 256-entry table per channel; torchvision's posterize, solarize,
// autocontrast, equalize, invert on PIL images):
//   posterize(bits)     x & ~(2^(8-bits) - 1): keeps the `bits` high bits, bits in [0, 8]
//   solarize(t)         x < t ? x : 255 - x
//   autocontrast        per channel, lo..hi (the smallest and largest values present) stretched
//                       to 0..255: int(x·255/(hi - lo) - lo·255/(hi - lo)) clamped; unchanged
//                       when hi <= lo
//   equalize            per channel histogram h over the values present: step = (count - count
//                       of the last value present) // 255; x -> (step // 2 + Σ_{v<x} h[v]) //
//                       step; unchanged when step is 0 (one value, or too few pixels)
//   invert              255 - x
Image posterize(const Image& img, int64_t bits);
Image solarize(const Image& img, double threshold);
Image autocontrast(const Image& img);
Image equalize(const Image& img);
Image invert(const Image& img);
// PIL's convert("L") kept as 1 channel: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
Image to_grayscale(const Image& img);

// uint8 [H,W,C] -> float32 [C,H,W] in [0, 1] (x/255, rounded as float32 division).
Tensor to_tensor(const Image& img);
// (x - mean_c) / std_c per channel of a float tensor [..., C, H, W]; mean and std hold 1 or C
// values, converted to the tensor's dtype first as torchvision does. Returns a new tensor.
Tensor normalize(const Tensor& img, const std::vector<double>& mean,
                 const std::vector<double>& std);
// img[..., top:top+height, left:left+width] = value, value broadcastable to [C, height, width]
// (shape [C or 1, height or 1, width or 1]). Returns a new tensor (torchvision's erase, not
// inplace).
Tensor erase(const Tensor& img, const CropBox& box, const Tensor& value);

// ---- transforms (torchvision.transforms) ------------------------------------------------------
// Every transform is callable as (input, Generator&); deterministic ones ignore the generator and
// are also callable with the input alone.

class Resize {
 public:
  explicit Resize(int64_t size, Interpolation interpolation = Interpolation::Bilinear,
                  std::optional<int64_t> max_size = {});
  explicit Resize(ImageSize size, Interpolation interpolation = Interpolation::Bilinear);
  Image operator()(const Image& img) const;
  Image operator()(const Image& img, Generator&) const { return (*this)(img); }

 private:
  std::optional<int64_t> shorter_;
  ImageSize size_;
  Interpolation interpolation_;
  std::optional<int64_t> max_size_;
};

class CenterCrop {
 public:
  explicit CenterCrop(int64_t size) : CenterCrop(ImageSize{size, size}) {}
  explicit CenterCrop(ImageSize size);
  Image operator()(const Image& img) const { return center_crop(img, size_); }
  Image operator()(const Image& img, Generator&) const { return (*this)(img); }

 private:
  ImageSize size_;
};

// A random crop of area fraction ~ U(scale) and aspect ratio w/h ~ logU(ratio), resized to `size`.
class RandomResizedCrop {
 public:
  struct Options {
    std::array<double, 2> scale = {0.08, 1.0};
    std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
    Interpolation interpolation = Interpolation::Bilinear;
  };
  explicit RandomResizedCrop(int64_t size) : RandomResizedCrop(size, Options{}) {}
  RandomResizedCrop(int64_t size, Options opt) : RandomResizedCrop(ImageSize{size, size}, opt) {}
  RandomResizedCrop(ImageSize size, Options opt);
  // torchvision's procedure: up to 10 tries of area = A·U(scale), r = exp(U(log ratio)),
  // w = round(√(area·r)), h = round(√(area/r)), accepted when 0 < w <= W and 0 < h <= H, then
  // top ~ U{0..H-h}, left ~ U{0..W-w}; else the central crop with the aspect ratio clamped to
  // `ratio` (the whole image when its ratio is in range).
  static CropBox get_params(ImageSize in, std::array<double, 2> scale, std::array<double, 2> ratio,
                            Generator& gen);
  Image operator()(const Image& img, Generator& gen) const;

 private:
  ImageSize size_;
  Options opt_;
};

// RandomHorizontalFlip (hflip) and RandomVerticalFlip (vflip) with probability p.
template <bool Vertical>
class RandomFlip {
 public:
  explicit RandomFlip(double p = 0.5);
  Image operator()(const Image& img, Generator& gen) const;

 private:
  double p_;
};
using RandomHorizontalFlip = RandomFlip<false>;
using RandomVerticalFlip = RandomFlip<true>;

// Rotation by an angle ~ U(degrees); a single number d means (-d, d).
class RandomRotation {
 public:
  explicit RandomRotation(double degrees, bool expand = false, WarpOptions opt = {});
  RandomRotation(std::array<double, 2> degrees, bool expand = false, WarpOptions opt = {});
  static double get_params(std::array<double, 2> degrees, Generator& gen);
  Image operator()(const Image& img, Generator& gen) const;

 private:
  std::array<double, 2> degrees_;
  bool expand_;
  WarpOptions opt_;
};

// Affine map with angle ~ U(degrees), translation ~ round(U(±translate·size)) pixels, scale ~
// U(scale), shear_x ~ U(shear[0..1]) and shear_y ~ U(shear[2..3]).
class RandomAffine {
 public:
  struct Options {
    // Maximum translation as a fraction of (width, height), each in [0, 1].
    std::optional<std::array<double, 2>> translate = {};
    std::optional<std::array<double, 2>> scale = {};  // (min, max), > 0
    // Shear in degrees as torchvision takes it: {} none, {s} x in (-s, s), {a, b} x in (a, b),
    // {a, b, c, d} x in (a, b) and y in (c, d).
    std::vector<double> shear = {};
    WarpOptions warp = {};
  };
  explicit RandomAffine(double degrees) : RandomAffine(degrees, Options{}) {}
  RandomAffine(double degrees, Options opt);
  RandomAffine(std::array<double, 2> degrees, Options opt);
  static AffineParams get_params(std::array<double, 2> degrees,
                                 std::optional<std::array<double, 2>> translate,
                                 std::optional<std::array<double, 2>> scale,
                                 const std::vector<double>& shear, ImageSize img, Generator& gen);
  Image operator()(const Image& img, Generator& gen) const;

 private:
  std::array<double, 2> degrees_;
  Options opt_;
  std::vector<double> shear_;  // 0, 2 or 4 values (a single s expanded to (-s, s))
};

// Brightness, contrast, saturation and hue adjustments in a random order, each factor drawn
// uniformly from its range. A number v gives [max(0, 1 - v), 1 + v] ([-v, v] for hue); a range
// equal to the identity (1, 1) or (0, 0) for hue is skipped, as in torchvision.
class ColorJitter {
 public:
  using Range = std::optional<std::array<double, 2>>;
  ColorJitter(double brightness = 0, double contrast = 0, double saturation = 0, double hue = 0);
  // Explicit (min, max) ranges; nullopt disables an adjustment.
  ColorJitter(Range brightness, Range contrast, Range saturation, Range hue);
  struct Params {
    std::array<int, 4> order = {0, 1, 2, 3};  // 0 brightness, 1 contrast, 2 saturation, 3 hue
    std::optional<double> brightness = {}, contrast = {}, saturation = {}, hue = {};
  };
  static Params get_params(Range brightness, Range contrast, Range saturation, Range hue,
                           Generator& gen);
  // The deterministic core: the adjustments of `p` in p.order.
  static Image apply(const Image& img, const Params& p);
  Image operator()(const Image& img, Generator& gen) const;

 private:
  Range brightness_, contrast_, saturation_, hue_;
};

class Normalize {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& img) const { return normalize(img, mean_, std_); }
  Tensor operator()(const Tensor& img, Generator&) const { return (*this)(img); }

 private:
  std::vector<double> mean_, std_;
};

// With probability p, erases a box of area fraction ~ U(scale) and aspect ratio h/w ~ logU(ratio)
// of a tensor image [..., C, H, W] (after ToTensor / Normalize, as torchvision).
class RandomErasing {
 public:
  struct Options {
    double p = 0.5;
    std::array<double, 2> scale = {0.02, 0.33};
    std::array<double, 2> ratio = {0.3, 3.3};
    std::vector<float> value = {0.0f};  // 1 or C values
    bool random_value = false;          // erase with standard-normal noise instead of `value`
  };
  RandomErasing() : RandomErasing(Options{}) {}
  explicit RandomErasing(Options opt);
  // torchvision's procedure: up to 10 tries of area = H·W·U(scale), r = exp(U(log ratio)),
  // h = round(√(area·r)), w = round(√(area/r)), accepted when h < H and w < W, then top ~
  // U{0..H-h}, left ~ U{0..W-w}; nullopt when no try fits (the image is returned unchanged).
  static std::optional<CropBox> get_params(ImageSize in, std::array<double, 2> scale,
                                           std::array<double, 2> ratio, Generator& gen);
  Tensor operator()(const Tensor& img, Generator& gen) const;

 private:
  Options opt_;
};

// ---- pipelines ----------------------------------------------------------------------------------

using ImageTransform = std::function<Image(const Image&, Generator&)>;
using TensorTransform = std::function<Tensor(const Tensor&, Generator&)>;

// torchvision's Compose for classification: image steps, then ToTensor, then tensor steps
// (Normalize, RandomErasing, ...). Steps run in the order they were added; an image step after a
// tensor step is an error. The same generator state gives the same output.
class Compose {
 public:
  Compose& then(ImageTransform step);
  Compose& then(TensorTransform step);
  // The image steps alone (to look at augmented samples).
  Image apply_image(const Image& img, Generator& gen) const;
  Tensor operator()(const Image& img, Generator& gen) const;
  size_t size() const { return image_steps_.size() + tensor_steps_.size(); }

 private:
  std::vector<ImageTransform> image_steps_;
  std::vector<TensorTransform> tensor_steps_;
};

// Evaluation: Resize -> CenterCrop(crop) -> ToTensor -> Normalize(mean, std) as `p` says
// (data/preprocessing.h; the default is the torchvision ImageNet weights' Resize(256) ->
// CenterCrop(224), seeds 000 and 004). Resize and CenterCrop run as one step that resamples only
// the pixels the crop keeps (the same bytes, a third less work at 256/224). `p` is checked
// (check_preprocessing).
Compose eval_transform(const Preprocessing& p = {});

// Training augmentation, in the seeds' order: RandomResizedCrop(crop, scale, ratio) ->
// RandomHorizontalFlip(hflip) -> RandomVerticalFlip(vflip) -> the auto_augment policy
// (data/auto_augment.h: "ta_wide", "ra" with ra_magnitude, "imagenet", "cifar10", "svhn", "augmix"
// with augmix_severity; where torchvision's reference recipes put it) ->
// RandomRotation(rotation) -> ColorJitter(color_jitter) ->
// RandomAffine(0, affine_translate, shear=affine_shear) -> ToTensor -> Normalize(mean, std) ->
// RandomErasing(erasing). A zero (or absent) setting leaves its step out; the defaults are the
// standard ImageNet recipe (RandomResizedCrop(224) + flip). heavy_augmentation() is seed 003's.
struct TrainTransformOptions {
  int64_t crop = 224;
  std::array<double, 2> scale = {0.08, 1.0};
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  // RandomResizedCrop's and the auto-augment policy's resampling (the reference scripts'
  // --interpolation)
  Interpolation interpolation = Interpolation::Bilinear;
  double hflip = 0.5;  // probability
  double vflip = 0;    // probability (timm's --vflip)
  // "" (none), "ta_wide", "ra", "imagenet", "cifar10", "svhn", "augmix"
  std::string auto_augment = "";
  int64_t ra_magnitude = 9;                           // RandAugment's bin of 31
  int64_t augmix_severity = 3;                        // AugMix's severity, in [1, 10]
  double rotation = 0;                                // degrees d: angle ~ U(-d, d)
  std::array<double, 4> color_jitter = {0, 0, 0, 0};  // brightness, contrast, saturation, hue
  std::optional<std::array<double, 2>> affine_translate = {};
  double affine_shear = 0;  // degrees
  double erasing = 0;       // RandomErasing probability (default scale, ratio and value 0)
  std::vector<double> mean = kImageNetMean;
  std::vector<double> std = kImageNetStd;
};
Compose train_transform(const TrainTransformOptions& opt = {});
// The steps train_transform makes, torchvision's way, e.g. "RandomResizedCrop(224, scale=(0.7,
// 1), ratio=(0.75, 1.33)) -> RandomHorizontalFlip(p=0.5) -> RandomRotation(15) -> ToTensor ->
// Normalize" (for logs and reports).
std::string train_transform_str(const TrainTransformOptions& opt);
// Seed 003: RandomResizedCrop(224, scale=(0.7, 1)), flip, RandomRotation(15),
// ColorJitter(0.3, 0.3, 0.3, 0.1), RandomAffine(0, translate=(0.1, 0.1), shear=10),
// RandomErasing(p=0.2). (Seed 004 is {.crop = 256, .rotation = 15}.)
TrainTransformOptions heavy_augmentation();

}  // namespace afinar::data
