// Automatic augmentation policies of torchvision 0.14 (torchvision.transforms.autoaugment) on
// 8-bit images: TrivialAugmentWide, RandAugment, AutoAugment (its ImageNet, CIFAR10 and SVHN
// policies) and AugMix. Each picks operations and magnitudes at random and applies them with
// torchvision's _apply_op:
//
//   ShearX / ShearY       affine shear of degrees(atan(m)) about the corner (0, 0)
//   TranslateX / Y        affine translation by int(m) pixels
//   Rotate                rotation by m degrees (counter-clockwise)
//   Brightness, Color,    adjust_brightness / saturation / contrast / sharpness with 1 + m
//   Contrast, Sharpness
//   Posterize             posterize(int(m) bits)
//   Solarize              solarize(threshold m)
//   AutoContrast, Equalize, Invert, Identity   (no magnitude)
//
// the geometric ones resampled with the policy's interpolation (nearest by default, as in
// torchvision; the reference scripts pass their --interpolation, bilinear) and fill 0, so each op's
// output equals torchvision's on the PIL image byte for byte (transforms.h); AugMix's ops take
// torchvision's tensor path, as AugMix does (ImageBackend below). A signed op's
// magnitude is negated with probability 1/2. The magnitudes are the bins of torch.linspace in
// float32, as torchvision draws them (augment_space below).
//
//   TrivialAugmentWide ta;                        // one op, uniform op and bin
//   RandAugment ra({.num_ops = 2, .magnitude = 9});
//   Image out = ta(image, gen);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "afinar/core/rng.h"
#include "afinar/data/image.h"
#include "afinar/data/transforms.h"

namespace afinar::data {

enum class AugmentOp : uint8_t {
  Identity,
  ShearX,
  ShearY,
  TranslateX,
  TranslateY,
  Rotate,
  Brightness,
  Color,
  Contrast,
  Sharpness,
  Posterize,
  Solarize,
  AutoContrast,
  Equalize,
  Invert,
};
// torchvision's op name ("ShearX", ...).
const char* augment_op_name(AugmentOp op);

// Which of torchvision's two implementations of an op runs. Pil: Pillow's, as the policies run
// on the PIL images of torchvision's pipelines. Tensor: functional_tensor's on a uint8 tensor, as
// AugMix runs them (it converts its PIL input to a tensor first). The two round differently
// (float32 blends truncated, grid_sample warps; src/data/transforms/tensor_path.h has the math),
// and the tensor path has no bicubic warp.
enum class ImageBackend : uint8_t { Pil, Tensor };

// torchvision's _apply_op(img, op, magnitude, interpolation, fill=None), on `backend`'s path.
Image apply_augment_op(const Image& img, AugmentOp op, double magnitude,
                       Interpolation interpolation = Interpolation::Nearest,
                       ImageBackend backend = ImageBackend::Pil);

// One entry of a policy's augmentation space: the op, its magnitude bins (empty: the op takes no
// magnitude, 0) and whether a draw negates the magnitude half the time.
struct AugmentSpace {
  AugmentOp op;
  std::vector<double> magnitudes;
  bool is_signed;
};
// torchvision's _augmentation_space of each policy, in its order (the op index draws over it):
//   trivial_augment_space  Identity, ShearX/Y 0..0.99, TranslateX/Y 0..32 px, Rotate 0..135,
//                          Brightness/Color/Contrast/Sharpness 0..0.99, Posterize 8..2 bits,
//                          Solarize 255..0, AutoContrast, Equalize
//   rand_augment_space     the same ops with ShearX/Y 0..0.3, TranslateX/Y 0..150/331 of the
//                          width / height, Rotate 0..30, the colour ones 0..0.9, Posterize 8..4
//   auto_augment_space     rand_augment_space without Identity, plus Invert
//   augmix_space           ShearX/Y 0..0.3, TranslateX/Y 0..1/3 of the width / height, Rotate
//                          0..30, Posterize 4..0 bits, Solarize 255..0, AutoContrast, Equalize;
//                          with all_ops, then Brightness/Color/Contrast/Sharpness 0..0.9
std::vector<AugmentSpace> trivial_augment_space(int64_t num_bins);
std::vector<AugmentSpace> rand_augment_space(int64_t num_bins, ImageSize size);
std::vector<AugmentSpace> auto_augment_space(int64_t num_bins, ImageSize size);
std::vector<AugmentSpace> augmix_space(int64_t num_bins, ImageSize size, bool all_ops = true);

// torch.linspace(start, end, steps) in float32 as PyTorch's CPU kernel computes it, each value
// widened to double: step = (end - start) / (steps - 1) in float; element i is start + step·i
// below steps / 2 and end - step·(steps - 1 - i) from there, each product fused with its sum;
// but runs of 16 elements from the front come from two 8-lane vectors (an AVX2 build), whose
// lanes are base + j·step from the run's first element. The last bit decides, for one, that
// TrivialAugmentWide's 16th translation bin is 16 pixels and not 15.
std::vector<double> torch_linspace_f32(double start, double end, int64_t steps);

// An op to apply with its (signed) magnitude: what a policy draws for one image.
struct AugmentStep {
  AugmentOp op;
  double magnitude;
};
// apply_augment_op of each step in turn.
Image apply_augment_steps(const Image& img, const std::vector<AugmentStep>& steps,
                          Interpolation interpolation = Interpolation::Nearest,
                          ImageBackend backend = ImageBackend::Pil);

// Every image gets one op drawn uniformly from trivial_augment_space(num_magnitude_bins), with a
// bin drawn uniformly among its magnitudes. get_params draws the steps (torchvision's order: op,
// bin, sign) and operator() applies them.
class TrivialAugmentWide {
 public:
  explicit TrivialAugmentWide(int64_t num_magnitude_bins = 31,
                              Interpolation interpolation = Interpolation::Nearest);
  std::vector<AugmentStep> get_params(ImageSize size, Generator& gen) const;
  Image operator()(const Image& img, Generator& gen) const;

 private:
  std::vector<AugmentSpace> space_;  // independent of the image size: built once
  Interpolation interpolation_;
};

// num_ops ops in a row, each drawn uniformly from rand_augment_space(num_magnitude_bins, the
// image's size), all at bin `magnitude`.
class RandAugment {
 public:
  struct Options {
    int64_t num_ops = 2;
    int64_t magnitude = 9;  // in [0, num_magnitude_bins)
    int64_t num_magnitude_bins = 31;
    Interpolation interpolation = Interpolation::Nearest;
  };
  RandAugment() : RandAugment(Options{}) {}
  explicit RandAugment(Options options);
  std::vector<AugmentStep> get_params(ImageSize size, Generator& gen) const;
  Image operator()(const Image& img, Generator& gen) const;

 private:
  Options opt_;
};

// torchvision's AutoAugmentPolicy: the sub-policies learned on ImageNet, CIFAR-10 or SVHN
// (Cubuk et al., 2019).
enum class AutoAugmentPolicy : uint8_t { ImageNet, Cifar10, Svhn };
// "imagenet", "cifar10", "svhn" (AutoAugmentPolicy's values).
const char* auto_augment_policy_name(AutoAugmentPolicy policy);

// AutoAugment: one of the policy's 25 sub-policies drawn uniformly, each of its two (op,
// probability, bin) steps applied with that probability, magnitudes from auto_augment_space(10,
// the image's size).
class AutoAugment {
 public:
  struct Step {
    AugmentOp op;
    double probability;
    int64_t bin;  // -1: the op takes no magnitude
  };
  using SubPolicy = std::array<Step, 2>;
  // torchvision's table of each policy, in its order.
  static const std::vector<SubPolicy>& sub_policies(AutoAugmentPolicy policy);

  explicit AutoAugment(AutoAugmentPolicy policy = AutoAugmentPolicy::ImageNet,
                       Interpolation interpolation = Interpolation::Nearest);
  // torchvision's draws (sub-policy, two probabilities, two signs), as the steps that apply.
  std::vector<AugmentStep> get_params(ImageSize size, Generator& gen) const;
  Image operator()(const Image& img, Generator& gen) const;

 private:
  AutoAugmentPolicy policy_;
  Interpolation interpolation_;
};

// AugMix (Hendrycks et al., ICLR 2020): `mixture_width` chains of augmentations mixed with the
// image, torchvision's way:
//   (m0, m1) ~ Dirichlet(alpha, alpha),  w ~ Dirichlet(alpha, ..., alpha) (mixture_width of them)
//   out = uint8(m0·img + Σ_i (w_i·m1)·chain_i(img))   in float32, truncated
// chain_i applies chain_depth ops (when <= 0, a depth drawn from {1, 2, 3} per chain), each drawn
// uniformly from augmix_space(10, the image's size, all_ops) with a bin drawn from 0..severity-1
// (torchvision draws below `severity`, not at it) and a signed magnitude negated with probability
// 1/2. The ops take torchvision's tensor path (ImageBackend::Tensor), so only nearest and
// bilinear resampling exist.
class AugMix {
 public:
  struct Options {
    int64_t severity = 3;  // in [1, 10]
    int64_t mixture_width = 3;
    int64_t chain_depth = -1;
    double alpha = 1.0;
    bool all_ops = true;  // Brightness, Color, Contrast and Sharpness too
    Interpolation interpolation = Interpolation::Bilinear;
  };
  // What AugMix draws for one image: the weights as torchvision holds them (float32: m0, and
  // w_i·m1 for chain i) and each chain's ops.
  struct Params {
    float original_weight = 1;
    std::vector<float> chain_weights;
    std::vector<std::vector<AugmentStep>> chains;
  };
  AugMix() : AugMix(Options{}) {}
  explicit AugMix(Options options);
  // torchvision's draws in its order: the two Dirichlet samples, then per chain its depth and per
  // op the op, the bin and the sign.
  Params get_params(ImageSize size, Generator& gen) const;
  Image operator()(const Image& img, Generator& gen) const;
  // The mixture of `params`' chains with the image.
  static Image mix(const Image& img, const Params& params, Interpolation interpolation);

 private:
  Options opt_;
};

// The policy a training recipe names, as torchvision's reference scripts spell it
// (--auto-augment): "ta_wide" (TrivialAugmentWide), "ra" (RandAugment with magnitude
// ra_magnitude), "imagenet", "cifar10" or "svhn" (AutoAugment with that policy), "augmix" (AugMix
// with augmix_severity), resampling with `interpolation` as the scripts do (their
// --interpolation, bilinear by default). An unknown name is an error that lists these.
ImageTransform auto_augment_transform(const std::string& policy, int64_t ra_magnitude = 9,
                                      Interpolation interpolation = Interpolation::Bilinear,
                                      int64_t augmix_severity = 3);
bool is_auto_augment_policy(const std::string& policy);
// "TrivialAugmentWide(num_magnitude_bins=31, interpolation=bilinear)", "RandAugment(num_ops=2,
// magnitude=9, interpolation=bilinear)", "AutoAugment(policy=imagenet, interpolation=bilinear)",
// "AugMix(severity=3, interpolation=bilinear)".
std::string auto_augment_str(const std::string& policy, int64_t ra_magnitude = 9,
                             Interpolation interpolation = Interpolation::Bilinear,
                             int64_t augmix_severity = 3);

}  // namespace afinar::data
