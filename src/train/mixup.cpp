#include "afinar/train/mixup.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "afinar/core/check.h"
#include "afinar/core/philox.h"
#include "afinar/core/rng.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/flip.h"
#include "afinar/ops/loss.h"

namespace afinar::train {

namespace {

// The generator of the draws of batch `micro` of step `step`: its seed is a Philox block of
// (seed, step, micro) on a stream of its own ("MIXU" in the last counter word), apart from the
// loader's shuffle and sample streams.
Generator step_generator(uint64_t seed, int64_t step, int64_t micro) {
  constexpr uint32_t kMixupStream = 0x4D495855;  // "MIXU"
  const auto s = uint64_t(step);
  const Philox4 r =
      philox4x32_10(uint32_t(s), uint32_t(s >> 32), uint32_t(micro), kMixupStream, seed);
  return Generator(uint64_t(r.w[0]) | uint64_t(r.w[1]) << 32);
}

void check_probability(double p, const std::string& where, const char* what) {
  AFN_CHECK(p >= 0 && p <= 1, where, ": ", what, " must be a probability in [0, 1], got ", p);
}

void check_alpha(double a, const std::string& where, const char* what) {
  AFN_CHECK(std::isfinite(a) && a >= 0, where, ": ", what,
            " must be >= 0 and finite (the Beta distribution's α; 0 turns it off), got ", a);
}

}  // namespace

void check_mixup(const MixupOptions& o, const std::string& where) {
  check_alpha(o.mixup_alpha, where, "mixup (--mixup, mixup)");
  check_alpha(o.cutmix_alpha, where, "cutmix (--cutmix, cutmix)");
  check_probability(o.prob, where, "mixup_prob (--mixup-prob, mixup_prob)");
  check_probability(o.switch_prob, where,
                    "mixup_switch_prob (--mixup-switch-prob, mixup_switch_prob)");
  AFN_CHECK(o.off_epoch >= 0, where,
            ": mixup_off_epoch (--mixup-off-epoch, mixup_off_epoch; 0: never) must be >= 0, got ",
            o.off_epoch);
}

std::string mixup_str(const MixupOptions& o) {
  return detail::concat("Mixup(mixup_alpha=", o.mixup_alpha, ", cutmix_alpha=", o.cutmix_alpha,
                        ", prob=", o.prob, ", switch_prob=", o.switch_prob, ", mode=batch)",
                        o.off_epoch > 0 ? detail::concat(" until epoch ", o.off_epoch) : "");
}

MixDraw cutmix_box(double lam, int64_t height, int64_t width, int64_t cy, int64_t cx) {
  // timm's rand_bbox: cut sides int(H·√(1-λ)), int(W·√(1-λ)); the box spans half a side
  // (floored) either way of the centre, clipped to the image.
  const double ratio = std::sqrt(1.0 - lam);
  const auto cut_h = int64_t(double(height) * ratio), cut_w = int64_t(double(width) * ratio);
  MixDraw d;
  d.cutmix = true;
  d.y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, height);
  d.y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, height);
  d.x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, width);
  d.x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, width);
  d.lam = 1.0 - double((d.y1 - d.y0) * (d.x1 - d.x0)) / double(height * width);
  return d;
}

MixDraw draw_mix(const MixupOptions& o, int64_t height, int64_t width, uint64_t seed, int64_t step,
                 int64_t micro) {
  if (!o.enabled()) return {};
  Generator gen = step_generator(seed, step, micro);
  // timm's Mixup._params_per_batch, then _mix_batch's box for cutmix.
  if (!draw_bernoulli(gen, o.prob)) return {};
  const bool cutmix = o.mixup_alpha > 0 && o.cutmix_alpha > 0 ? draw_bernoulli(gen, o.switch_prob)
                                                              : o.cutmix_alpha > 0;
  const double alpha = cutmix ? o.cutmix_alpha : o.mixup_alpha;
  const double lam = draw_beta(gen, alpha, alpha);
  if (lam == 1.0) return {};
  if (!cutmix) return {.lam = lam};
  AFN_CHECK(height > 0 && width > 0, "cutmix: the images are empty (", height, " × ", width, ")");
  const int64_t cy = draw_int(gen, 0, height);
  const int64_t cx = draw_int(gen, 0, width);
  return cutmix_box(lam, height, width, cy, cx);
}

Tensor mix_images(const Tensor& images, const MixDraw& d) {
  if (d.lam == 1.0 && !d.cutmix) return images;
  AFN_CHECK(images.dim() == 4, "mixup: images must be a batch [N, C, H, W], got shape ",
            images.shape());
  const Tensor mirrored = flip(images, {0});
  if (!d.cutmix) return images * d.lam + mirrored * (1.0 - d.lam);
  AFN_CHECK(d.y1 <= images.size(2) && d.x1 <= images.size(3), "cutmix: the box [", d.y0, ", ", d.y1,
            ") × [", d.x0, ", ", d.x1, ") does not fit images of shape ", images.shape());
  // The box pasted from the mirrored batch (timm: x[:, :, y0:y1, x0:x1] = x.flip(0)[...]).
  Tensor mixed = images.detach().clone();
  mixed.slice(2, d.y0, d.y1)
      .slice(3, d.x0, d.x1)
      .copy_(mirrored.detach().slice(2, d.y0, d.y1).slice(3, d.x0, d.x1));
  return mixed;
}

Tensor mixed_cross_entropy(const Tensor& logits, const Tensor& labels, const MixDraw& d,
                           double label_smoothing) {
  const CrossEntropyOptions opt{.label_smoothing = label_smoothing};
  const Tensor own = cross_entropy(logits, labels, opt);
  if (d.lam == 1.0) return own;
  return own * d.lam + cross_entropy(logits, flip(labels, {0}), opt) * (1.0 - d.lam);
}

}  // namespace afinar::train
