// torchvision's AugMix (include/afinar/data/auto_augment.h).
#include "data/transforms/internal.h"

#include <algorithm>

#include "afinar/data/auto_augment.h"

namespace afinar::data {

AugMix::AugMix(Options options) : opt_(options) {
  AFN_CHECK(opt_.severity >= 1 && opt_.severity <= 10, "AugMix: severity must be in [1, 10], got ",
            opt_.severity);
  AFN_CHECK(opt_.mixture_width >= 1, "AugMix: mixture_width must be >= 1, got ",
            opt_.mixture_width);
  AFN_CHECK(opt_.alpha > 0 && std::isfinite(opt_.alpha),
            "AugMix: alpha must be positive and finite, got ", opt_.alpha);
  AFN_CHECK(opt_.interpolation != Interpolation::Bicubic,
            "AugMix: interpolation must be nearest or bilinear (torchvision's tensor path, which "
            "AugMix takes, has no bicubic warp)");
}

AugMix::Params AugMix::get_params(ImageSize size, Generator& gen) const {
  const std::vector<AugmentSpace> space = augmix_space(10, size, opt_.all_ops);
  Params p;
  const std::vector<double> m = draw_dirichlet(gen, {opt_.alpha, opt_.alpha});
  const std::vector<double> w =
      draw_dirichlet(gen, std::vector<double>(size_t(opt_.mixture_width), opt_.alpha));
  // torch holds the samples in float32 and multiplies them there.
  p.original_weight = float(m[0]);
  for (double wi : w) p.chain_weights.push_back(float(wi) * float(m[1]));
  for (int64_t i = 0; i < opt_.mixture_width; ++i) {
    const int64_t depth = opt_.chain_depth > 0 ? opt_.chain_depth : draw_int(gen, 1, 4);
    std::vector<AugmentStep>& chain = p.chains.emplace_back();
    for (int64_t k = 0; k < depth; ++k) {
      const AugmentSpace& s = space[size_t(draw_int(gen, 0, int64_t(space.size())))];
      double magnitude = 0;
      if (!s.magnitudes.empty()) magnitude = s.magnitudes[size_t(draw_int(gen, 0, opt_.severity))];
      if (s.is_signed && draw_int(gen, 0, 2) == 1) magnitude = -magnitude;
      chain.push_back({s.op, magnitude});
    }
  }
  return p;
}

Image AugMix::mix(const Image& img, const Params& params, Interpolation interpolation) {
  detail::check_image(img, "AugMix");
  AFN_CHECK(params.chain_weights.size() == params.chains.size(),
            "AugMix: ", params.chain_weights.size(), " chain weights for ", params.chains.size(),
            " chains");
  AFN_CHECK(std::isfinite(params.original_weight), "AugMix: the weights must be finite");
  for (float w : params.chain_weights)
    AFN_CHECK(std::isfinite(w), "AugMix: the weights must be finite");
  // mix = m0·img, then mix += w_i·chain_i(img) chain by chain, in float32 as torch does.
  std::vector<float> mixed(img.data.size());
  for (size_t j = 0; j < mixed.size(); ++j) mixed[j] = params.original_weight * float(img.data[j]);
  for (size_t i = 0; i < params.chains.size(); ++i) {
    const Image aug =
        apply_augment_steps(img, params.chains[i], interpolation, ImageBackend::Tensor);
    const float w = params.chain_weights[i];
    for (size_t j = 0; j < mixed.size(); ++j) mixed[j] += w * float(aug.data[j]);
  }
  Image out(img.height, img.width, img.channels);
  for (size_t j = 0; j < mixed.size(); ++j)  // .to(torch.uint8): truncation
    out.data[j] = uint8_t(std::clamp(mixed[j], 0.0f, 255.0f));
  return out;
}

Image AugMix::operator()(const Image& img, Generator& gen) const {
  detail::check_image(img, "AugMix");
  return mix(img, get_params({img.height, img.width}, gen), opt_.interpolation);
}

}  // namespace afinar::data
