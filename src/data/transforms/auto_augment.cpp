// torchvision's automatic augmentation policies (include/afinar/data/auto_augment.h).
#include "data/transforms/tensor_path.h"

#include <algorithm>
#include <optional>

#include "afinar/data/auto_augment.h"

namespace afinar::data {

namespace {

using Op = AugmentOp;

constexpr double kDegrees = 180.0 / 3.14159265358979323846;  // math.degrees

// Posterize's bits per bin: top - round(i / ((num_bins - 1) / levels)), torch's float32 division
// and round half to even.
std::vector<double> posterize_bits(int64_t num_bins, double top, float levels) {
  std::vector<double> bits;
  const float per_level = float(num_bins - 1) / levels;
  for (int64_t i = 0; i < num_bins; ++i)
    bits.push_back(top - std::nearbyint(double(float(i) / per_level)));
  return bits;
}

// The space RandAugment and AutoAugment share (without Identity and Invert).
std::vector<AugmentSpace> wide_ops(int64_t n, ImageSize size, double shear, double rotate,
                                   double colour, float posterize_levels) {
  const auto lin = [n](double start, double end) { return torch_linspace_f32(start, end, n); };
  return {{Op::ShearX, lin(0, shear), true},
          {Op::ShearY, lin(0, shear), true},
          {Op::TranslateX, lin(0, 150.0 / 331.0 * double(size.width)), true},
          {Op::TranslateY, lin(0, 150.0 / 331.0 * double(size.height)), true},
          {Op::Rotate, lin(0, rotate), true},
          {Op::Brightness, lin(0, colour), true},
          {Op::Color, lin(0, colour), true},
          {Op::Contrast, lin(0, colour), true},
          {Op::Sharpness, lin(0, colour), true},
          {Op::Posterize, posterize_bits(n, 8, posterize_levels), false},
          {Op::Solarize, lin(255, 0), false},
          {Op::AutoContrast, {}, false},
          {Op::Equalize, {}, false}};
}

void check_bins(int64_t num_bins, const char* policy) {
  AFN_CHECK(num_bins >= 2, policy, ": num_magnitude_bins must be >= 2, got ", num_bins);
}

// A drawn op's magnitude: bin `bin` of its space (0 for ops without magnitudes), negated when
// `negate` and the op is signed.
double magnitude_of(const AugmentSpace& s, int64_t bin, bool negate) {
  const double m = s.magnitudes.empty() ? 0.0 : s.magnitudes[size_t(bin)];
  return s.is_signed && negate ? -m : m;
}

}  // namespace

const char* augment_op_name(AugmentOp op) {
  switch (op) {
    case Op::Identity:
      return "Identity";
    case Op::ShearX:
      return "ShearX";
    case Op::ShearY:
      return "ShearY";
    case Op::TranslateX:
      return "TranslateX";
    case Op::TranslateY:
      return "TranslateY";
    case Op::Rotate:
      return "Rotate";
    case Op::Brightness:
      return "Brightness";
    case Op::Color:
      return "Color";
    case Op::Contrast:
      return "Contrast";
    case Op::Sharpness:
      return "Sharpness";
    case Op::Posterize:
      return "Posterize";
    case Op::Solarize:
      return "Solarize";
    case Op::AutoContrast:
      return "AutoContrast";
    case Op::Equalize:
      return "Equalize";
    case Op::Invert:
      return "Invert";
  }
  return "?";
}

namespace {

// _apply_op on a uint8 tensor: the geometric ops warp with grid_sample about the image centre
// (torchvision's F.affine gives the tensor path its centre relative to the image's), the colour
// ones blend in float32.
Image apply_tensor_op(const Image& img, AugmentOp op, double m, Interpolation interpolation) {
  const auto warp = [&](std::array<double, 2> center, const AffineParams& p) {
    return detail::warp_affine_tensor(img, inverse_affine_matrix(center, p), interpolation);
  };
  const std::array<double, 2> corner = {-0.5 * double(img.width), -0.5 * double(img.height)};
  switch (op) {
    case Op::ShearX:
      return warp(corner, {.shear = {std::atan(m) * kDegrees, 0}});
    case Op::ShearY:
      return warp(corner, {.shear = {0, std::atan(m) * kDegrees}});
    case Op::TranslateX:
      return warp({0, 0}, {.translate = {std::trunc(m), 0}});
    case Op::TranslateY:
      return warp({0, 0}, {.translate = {0, std::trunc(m)}});
    case Op::Rotate:  // F.rotate's matrix: affine's with the angle negated
      return warp({0, 0}, {.angle = -m});
    case Op::Brightness:
      return detail::adjust_brightness_tensor(img, 1.0 + m);
    case Op::Color:
      return detail::adjust_saturation_tensor(img, 1.0 + m);
    case Op::Contrast:
      return detail::adjust_contrast_tensor(img, 1.0 + m);
    case Op::Sharpness:
      return detail::adjust_sharpness_tensor(img, 1.0 + m);
    case Op::AutoContrast:
      return detail::autocontrast_tensor(img);
    default:  // the tone ops: the same bytes on either path
      return apply_augment_op(img, op, m, interpolation, ImageBackend::Pil);
  }
}

}  // namespace

Image apply_augment_op(const Image& img, AugmentOp op, double m, Interpolation interpolation,
                       ImageBackend backend) {
  detail::check_image(img, augment_op_name(op));
  AFN_CHECK(std::isfinite(m), augment_op_name(op), ": the magnitude must be finite, got ", m);
  if (backend == ImageBackend::Tensor) return apply_tensor_op(img, op, m, interpolation);
  const WarpOptions centre{.interpolation = interpolation};
  const WarpOptions corner{.interpolation = interpolation, .center = std::array<double, 2>{0, 0}};
  switch (op) {
    case Op::Identity:
      return img;
    case Op::ShearX:
      return affine(img, {.shear = {std::atan(m) * kDegrees, 0}}, corner);
    case Op::ShearY:
      return affine(img, {.shear = {0, std::atan(m) * kDegrees}}, corner);
    case Op::TranslateX:
      return affine(img, {.translate = {std::trunc(m), 0}}, centre);
    case Op::TranslateY:
      return affine(img, {.translate = {0, std::trunc(m)}}, centre);
    case Op::Rotate:
      return rotate(img, m, /*expand=*/false, centre);
    case Op::Brightness:
      return adjust_brightness(img, 1.0 + m);
    case Op::Color:
      return adjust_saturation(img, 1.0 + m);
    case Op::Contrast:
      return adjust_contrast(img, 1.0 + m);
    case Op::Sharpness:
      return adjust_sharpness(img, 1.0 + m);
    case Op::Posterize:
      return posterize(img, int64_t(m));
    case Op::Solarize:
      return solarize(img, m);
    case Op::AutoContrast:
      return autocontrast(img);
    case Op::Equalize:
      return equalize(img);
    case Op::Invert:
      return invert(img);
  }
  AFN_FAIL("apply_augment_op: unknown op ", int(op));
}

Image apply_augment_steps(const Image& img, const std::vector<AugmentStep>& steps,
                          Interpolation interpolation, ImageBackend backend) {
  Image out = img;
  for (const AugmentStep& s : steps)
    out = apply_augment_op(out, s.op, s.magnitude, interpolation, backend);
  return out;
}

std::vector<double> torch_linspace_f32(double start, double end, int64_t steps) {
  AFN_CHECK(steps >= 1, "linspace: steps must be >= 1, got ", steps);
  const float s = float(start), e = float(end);
  if (steps == 1) return {double(s)};
  const float step = (e - s) / float(steps - 1);
  const int64_t halfway = steps / 2;
  // The scalar kernel's element i: one fused multiply-add from the nearer end.
  const auto at = [&](int64_t i) {
    return i < halfway ? std::fma(step, float(i), s) : std::fma(-step, float(steps - 1 - i), e);
  };
  std::vector<double> out(static_cast<size_t>(steps));
  constexpr int64_t kLanes = 8;
  const int64_t vectorised = steps / (2 * kLanes) * (2 * kLanes);
  for (int64_t base = 0; base < vectorised; base += kLanes) {
    const float first = at(base);
    out[size_t(base)] = first;
    for (int64_t j = 1; j < kLanes; ++j) {
      const float lane = float(j) * step;  // Vectorized<float>::arange(first, step)
      out[size_t(base + j)] = first + lane;
    }
  }
  for (int64_t i = vectorised; i < steps; ++i) out[size_t(i)] = at(i);
  return out;
}

std::vector<AugmentSpace> trivial_augment_space(int64_t n) {
  check_bins(n, "TrivialAugmentWide");
  const auto lin = [n](double start, double end) { return torch_linspace_f32(start, end, n); };
  return {{Op::Identity, {}, false},
          {Op::ShearX, lin(0, 0.99), true},
          {Op::ShearY, lin(0, 0.99), true},
          {Op::TranslateX, lin(0, 32), true},
          {Op::TranslateY, lin(0, 32), true},
          {Op::Rotate, lin(0, 135), true},
          {Op::Brightness, lin(0, 0.99), true},
          {Op::Color, lin(0, 0.99), true},
          {Op::Contrast, lin(0, 0.99), true},
          {Op::Sharpness, lin(0, 0.99), true},
          {Op::Posterize, posterize_bits(n, 8, 6), false},
          {Op::Solarize, lin(255, 0), false},
          {Op::AutoContrast, {}, false},
          {Op::Equalize, {}, false}};
}

std::vector<AugmentSpace> rand_augment_space(int64_t n, ImageSize size) {
  check_bins(n, "RandAugment");
  std::vector<AugmentSpace> space = {{Op::Identity, {}, false}};
  for (AugmentSpace& s : wide_ops(n, size, 0.3, 30, 0.9, 4)) space.push_back(std::move(s));
  return space;
}

std::vector<AugmentSpace> auto_augment_space(int64_t n, ImageSize size) {
  check_bins(n, "AutoAugment");
  std::vector<AugmentSpace> space = wide_ops(n, size, 0.3, 30, 0.9, 4);
  space.push_back({Op::Invert, {}, false});
  return space;
}

std::vector<AugmentSpace> augmix_space(int64_t n, ImageSize size, bool all_ops) {
  check_bins(n, "AugMix");
  const auto lin = [n](double start, double end) { return torch_linspace_f32(start, end, n); };
  std::vector<AugmentSpace> space = {{Op::ShearX, lin(0, 0.3), true},
                                     {Op::ShearY, lin(0, 0.3), true},
                                     {Op::TranslateX, lin(0, double(size.width) / 3.0), true},
                                     {Op::TranslateY, lin(0, double(size.height) / 3.0), true},
                                     {Op::Rotate, lin(0, 30), true},
                                     {Op::Posterize, posterize_bits(n, 4, 4), false},
                                     {Op::Solarize, lin(255, 0), false},
                                     {Op::AutoContrast, {}, false},
                                     {Op::Equalize, {}, false}};
  if (all_ops) {
    for (Op op : {Op::Brightness, Op::Color, Op::Contrast, Op::Sharpness})
      space.push_back({op, lin(0, 0.9), true});
  }
  return space;
}

TrivialAugmentWide::TrivialAugmentWide(int64_t num_magnitude_bins, Interpolation interpolation)
    : space_(trivial_augment_space(num_magnitude_bins)), interpolation_(interpolation) {}

std::vector<AugmentStep> TrivialAugmentWide::get_params(ImageSize, Generator& gen) const {
  const AugmentSpace& s = space_[size_t(draw_int(gen, 0, int64_t(space_.size())))];
  const int64_t bin = s.magnitudes.empty() ? 0 : draw_int(gen, 0, int64_t(s.magnitudes.size()));
  const bool negate = s.is_signed && draw_int(gen, 0, 2) == 1;
  return {{s.op, magnitude_of(s, bin, negate)}};
}

Image TrivialAugmentWide::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, "TrivialAugmentWide");
  return apply_augment_steps(img, get_params({img.height, img.width}, gen), interpolation_);
}

RandAugment::RandAugment(Options options) : opt_(options) {
  check_bins(opt_.num_magnitude_bins, "RandAugment");
  AFN_CHECK(opt_.num_ops >= 0, "RandAugment: num_ops must be >= 0, got ", opt_.num_ops);
  AFN_CHECK(opt_.magnitude >= 0 && opt_.magnitude < opt_.num_magnitude_bins,
            "RandAugment: magnitude must be in [0, ", opt_.num_magnitude_bins,
            ") (a bin of num_magnitude_bins), got ", opt_.magnitude);
}

std::vector<AugmentStep> RandAugment::get_params(ImageSize size, Generator& gen) const {
  const std::vector<AugmentSpace> space = rand_augment_space(opt_.num_magnitude_bins, size);
  std::vector<AugmentStep> steps;
  for (int64_t k = 0; k < opt_.num_ops; ++k) {
    const AugmentSpace& s = space[size_t(draw_int(gen, 0, int64_t(space.size())))];
    const bool negate = s.is_signed && draw_int(gen, 0, 2) == 1;
    steps.push_back({s.op, magnitude_of(s, opt_.magnitude, negate)});
  }
  return steps;
}

Image RandAugment::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, "RandAugment");
  return apply_augment_steps(img, get_params({img.height, img.width}, gen), opt_.interpolation);
}

const char* auto_augment_policy_name(AutoAugmentPolicy policy) {
  switch (policy) {
    case AutoAugmentPolicy::ImageNet:
      return "imagenet";
    case AutoAugmentPolicy::Cifar10:
      return "cifar10";
    case AutoAugmentPolicy::Svhn:
      return "svhn";
  }
  return "?";
}

namespace {

// torchvision's AutoAugmentPolicy.IMAGENET, CIFAR10 and SVHN tables, in its order.
const std::vector<AutoAugment::SubPolicy>& imagenet_sub_policies() {
  static const std::vector<AutoAugment::SubPolicy> policy = {
      {{{Op::Posterize, 0.4, 8}, {Op::Rotate, 0.6, 9}}},
      {{{Op::Solarize, 0.6, 5}, {Op::AutoContrast, 0.6, -1}}},
      {{{Op::Equalize, 0.8, -1}, {Op::Equalize, 0.6, -1}}},
      {{{Op::Posterize, 0.6, 7}, {Op::Posterize, 0.6, 6}}},
      {{{Op::Equalize, 0.4, -1}, {Op::Solarize, 0.2, 4}}},
      {{{Op::Equalize, 0.4, -1}, {Op::Rotate, 0.8, 8}}},
      {{{Op::Solarize, 0.6, 3}, {Op::Equalize, 0.6, -1}}},
      {{{Op::Posterize, 0.8, 5}, {Op::Equalize, 1.0, -1}}},
      {{{Op::Rotate, 0.2, 3}, {Op::Solarize, 0.6, 8}}},
      {{{Op::Equalize, 0.6, -1}, {Op::Posterize, 0.4, 6}}},
      {{{Op::Rotate, 0.8, 8}, {Op::Color, 0.4, 0}}},
      {{{Op::Rotate, 0.4, 9}, {Op::Equalize, 0.6, -1}}},
      {{{Op::Equalize, 0.0, -1}, {Op::Equalize, 0.8, -1}}},
      {{{Op::Invert, 0.6, -1}, {Op::Equalize, 1.0, -1}}},
      {{{Op::Color, 0.6, 4}, {Op::Contrast, 1.0, 8}}},
      {{{Op::Rotate, 0.8, 8}, {Op::Color, 1.0, 2}}},
      {{{Op::Color, 0.8, 8}, {Op::Solarize, 0.8, 7}}},
      {{{Op::Sharpness, 0.4, 7}, {Op::Invert, 0.6, -1}}},
      {{{Op::ShearX, 0.6, 5}, {Op::Equalize, 1.0, -1}}},
      {{{Op::Color, 0.4, 0}, {Op::Equalize, 0.6, -1}}},
      {{{Op::Equalize, 0.4, -1}, {Op::Solarize, 0.2, 4}}},
      {{{Op::Solarize, 0.6, 5}, {Op::AutoContrast, 0.6, -1}}},
      {{{Op::Invert, 0.6, -1}, {Op::Equalize, 1.0, -1}}},
      {{{Op::Color, 0.6, 4}, {Op::Contrast, 1.0, 8}}},
      {{{Op::Equalize, 0.8, -1}, {Op::Equalize, 0.6, -1}}},
  };
  return policy;
}

const std::vector<AutoAugment::SubPolicy>& cifar10_sub_policies() {
  static const std::vector<AutoAugment::SubPolicy> policy = {
      {{{Op::Invert, 0.1, -1}, {Op::Contrast, 0.2, 6}}},
      {{{Op::Rotate, 0.7, 2}, {Op::TranslateX, 0.3, 9}}},
      {{{Op::Sharpness, 0.8, 1}, {Op::Sharpness, 0.9, 3}}},
      {{{Op::ShearY, 0.5, 8}, {Op::TranslateY, 0.7, 9}}},
      {{{Op::AutoContrast, 0.5, -1}, {Op::Equalize, 0.9, -1}}},
      {{{Op::ShearY, 0.2, 7}, {Op::Posterize, 0.3, 7}}},
      {{{Op::Color, 0.4, 3}, {Op::Brightness, 0.6, 7}}},
      {{{Op::Sharpness, 0.3, 9}, {Op::Brightness, 0.7, 9}}},
      {{{Op::Equalize, 0.6, -1}, {Op::Equalize, 0.5, -1}}},
      {{{Op::Contrast, 0.6, 7}, {Op::Sharpness, 0.6, 5}}},
      {{{Op::Color, 0.7, 7}, {Op::TranslateX, 0.5, 8}}},
      {{{Op::Equalize, 0.3, -1}, {Op::AutoContrast, 0.4, -1}}},
      {{{Op::TranslateY, 0.4, 3}, {Op::Sharpness, 0.2, 6}}},
      {{{Op::Brightness, 0.9, 6}, {Op::Color, 0.2, 8}}},
      {{{Op::Solarize, 0.5, 2}, {Op::Invert, 0.0, -1}}},
      {{{Op::Equalize, 0.2, -1}, {Op::AutoContrast, 0.6, -1}}},
      {{{Op::Equalize, 0.2, -1}, {Op::Equalize, 0.6, -1}}},
      {{{Op::Color, 0.9, 9}, {Op::Equalize, 0.6, -1}}},
      {{{Op::AutoContrast, 0.8, -1}, {Op::Solarize, 0.2, 8}}},
      {{{Op::Brightness, 0.1, 3}, {Op::Color, 0.7, 0}}},
      {{{Op::Solarize, 0.4, 5}, {Op::AutoContrast, 0.9, -1}}},
      {{{Op::TranslateY, 0.9, 9}, {Op::TranslateY, 0.7, 9}}},
      {{{Op::AutoContrast, 0.9, -1}, {Op::Solarize, 0.8, 3}}},
      {{{Op::Equalize, 0.8, -1}, {Op::Invert, 0.1, -1}}},
      {{{Op::TranslateY, 0.7, 9}, {Op::AutoContrast, 0.9, -1}}},
  };
  return policy;
}

const std::vector<AutoAugment::SubPolicy>& svhn_sub_policies() {
  static const std::vector<AutoAugment::SubPolicy> policy = {
      {{{Op::ShearX, 0.9, 4}, {Op::Invert, 0.2, -1}}},
      {{{Op::ShearY, 0.9, 8}, {Op::Invert, 0.7, -1}}},
      {{{Op::Equalize, 0.6, -1}, {Op::Solarize, 0.6, 6}}},
      {{{Op::Invert, 0.9, -1}, {Op::Equalize, 0.6, -1}}},
      {{{Op::Equalize, 0.6, -1}, {Op::Rotate, 0.9, 3}}},
      {{{Op::ShearX, 0.9, 4}, {Op::AutoContrast, 0.8, -1}}},
      {{{Op::ShearY, 0.9, 8}, {Op::Invert, 0.4, -1}}},
      {{{Op::ShearY, 0.9, 5}, {Op::Solarize, 0.2, 6}}},
      {{{Op::Invert, 0.9, -1}, {Op::AutoContrast, 0.8, -1}}},
      {{{Op::Equalize, 0.6, -1}, {Op::Rotate, 0.9, 3}}},
      {{{Op::ShearX, 0.9, 4}, {Op::Solarize, 0.3, 3}}},
      {{{Op::ShearY, 0.8, 8}, {Op::Invert, 0.7, -1}}},
      {{{Op::Equalize, 0.9, -1}, {Op::TranslateY, 0.6, 6}}},
      {{{Op::Invert, 0.9, -1}, {Op::Equalize, 0.6, -1}}},
      {{{Op::Contrast, 0.3, 3}, {Op::Rotate, 0.8, 4}}},
      {{{Op::Invert, 0.8, -1}, {Op::TranslateY, 0.0, 2}}},
      {{{Op::ShearY, 0.7, 6}, {Op::Solarize, 0.4, 8}}},
      {{{Op::Invert, 0.6, -1}, {Op::Rotate, 0.8, 4}}},
      {{{Op::ShearY, 0.3, 7}, {Op::TranslateX, 0.9, 3}}},
      {{{Op::ShearX, 0.1, 6}, {Op::Invert, 0.6, -1}}},
      {{{Op::Solarize, 0.7, 2}, {Op::TranslateY, 0.6, 7}}},
      {{{Op::ShearY, 0.8, 4}, {Op::Invert, 0.8, -1}}},
      {{{Op::ShearX, 0.7, 9}, {Op::TranslateY, 0.8, 3}}},
      {{{Op::ShearY, 0.8, 5}, {Op::AutoContrast, 0.7, -1}}},
      {{{Op::ShearX, 0.7, 2}, {Op::Invert, 0.1, -1}}},
  };
  return policy;
}

}  // namespace

const std::vector<AutoAugment::SubPolicy>& AutoAugment::sub_policies(AutoAugmentPolicy policy) {
  switch (policy) {
    case AutoAugmentPolicy::ImageNet:
      return imagenet_sub_policies();
    case AutoAugmentPolicy::Cifar10:
      return cifar10_sub_policies();
    case AutoAugmentPolicy::Svhn:
      return svhn_sub_policies();
  }
  AFN_FAIL("AutoAugment: unknown policy ", int(policy));
}

AutoAugment::AutoAugment(AutoAugmentPolicy policy, Interpolation interpolation)
    : policy_(policy), interpolation_(interpolation) {
  sub_policies(policy_);  // an out-of-range enum fails here, not at the first image
}

std::vector<AugmentStep> AutoAugment::get_params(ImageSize size, Generator& gen) const {
  const std::vector<SubPolicy>& policy = sub_policies(policy_);
  const std::vector<AugmentSpace> space = auto_augment_space(10, size);
  // torchvision's get_params: the sub-policy, then two probabilities, then two signs.
  const SubPolicy& sub = policy[size_t(draw_int(gen, 0, int64_t(policy.size())))];
  const double probs[2] = {draw_uniform(gen, 0, 1), draw_uniform(gen, 0, 1)};
  const bool negate[2] = {draw_int(gen, 0, 2) == 0, draw_int(gen, 0, 2) == 0};
  std::vector<AugmentStep> steps;
  for (size_t i = 0; i < 2; ++i) {
    const Step& step = sub[i];
    if (probs[i] > step.probability) continue;
    const auto s = std::find_if(space.begin(), space.end(),
                                [&](const AugmentSpace& a) { return a.op == step.op; });
    steps.push_back({step.op, step.bin < 0 ? 0.0 : magnitude_of(*s, step.bin, negate[i])});
  }
  return steps;
}

Image AutoAugment::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, "AutoAugment");
  return apply_augment_steps(img, get_params({img.height, img.width}, gen), interpolation_);
}

namespace {
constexpr AutoAugmentPolicy kAutoAugmentPolicies[] = {
    AutoAugmentPolicy::ImageNet, AutoAugmentPolicy::Cifar10, AutoAugmentPolicy::Svhn};

// The AutoAugment policy named `name`, if any.
std::optional<AutoAugmentPolicy> auto_augment_policy_of(const std::string& name) {
  for (AutoAugmentPolicy p : kAutoAugmentPolicies)
    if (name == auto_augment_policy_name(p)) return p;
  return std::nullopt;
}
}  // namespace

bool is_auto_augment_policy(const std::string& policy) {
  return policy == "ta_wide" || policy == "ra" || policy == "augmix" ||
         auto_augment_policy_of(policy).has_value();
}

ImageTransform auto_augment_transform(const std::string& policy, int64_t ra_magnitude,
                                      Interpolation interpolation, int64_t augmix_severity) {
  AFN_CHECK(is_auto_augment_policy(policy), "auto_augment: unknown policy '", policy,
            "' (ta_wide: TrivialAugmentWide, ra: RandAugment, imagenet, cifar10 or svhn: "
            "AutoAugment with that policy, augmix: AugMix)");
  if (policy == "ta_wide") return TrivialAugmentWide(31, interpolation);
  if (policy == "ra")
    return RandAugment({.magnitude = ra_magnitude, .interpolation = interpolation});
  if (policy == "augmix")
    return AugMix({.severity = augmix_severity, .interpolation = interpolation});
  return AutoAugment(*auto_augment_policy_of(policy), interpolation);
}

std::string auto_augment_str(const std::string& policy, int64_t ra_magnitude,
                             Interpolation interpolation, int64_t augmix_severity) {
  const std::string interp =
      afinar::detail::concat("interpolation=", interpolation_name(interpolation), ")");
  if (policy == "ta_wide") return "TrivialAugmentWide(num_magnitude_bins=31, " + interp;
  if (policy == "ra")
    return afinar::detail::concat("RandAugment(num_ops=2, magnitude=", ra_magnitude, ", ", interp);
  if (policy == "augmix")
    return afinar::detail::concat("AugMix(severity=", augmix_severity, ", ", interp);
  return afinar::detail::concat("AutoAugment(policy=", policy, ", ", interp);
}

}  // namespace afinar::data
