// Mixup (Zhang et al., 2018) and CutMix (Yun et al., 2019) on training batches, as timm's Mixup
// with mode "batch" (timm/data/mixup.py; train.py's --mixup, --cutmix, --mixup-prob,
// --mixup-switch-prob): one draw per batch mixes every image with the image at the mirrored
// position of the batch, x' = flip(x, {0}).
//
//   mixup:   λ ~ Beta(α, α),  x'' = λ·x + (1-λ)·x'
//   cutmix:  λ ~ Beta(α, α), a box of sides ⌊H·√(1-λ)⌋ × ⌊W·√(1-λ)⌋ centred at a uniform pixel
//            (cy, cx), clipped to the image, takes x' there; λ is then corrected to the area
//            kept: λ = 1 - box area / (H·W) (timm's correct_lam)
//   target:  λ·onehot(y) + (1-λ)·onehot(y'), y' = flip(y, {0}), label smoothing ε on top, so
//            the loss is λ·CE_ε(logits, y) + (1-λ)·CE_ε(logits, y') — the same value as timm's
//            SoftTargetCrossEntropy of mixup_target(y, C, λ, ε), since CE is linear in the target.
//
// A batch is mixed with probability `prob`; when both α are > 0, cutmix is chosen with
// probability `switch_prob`, else mixup. Draws come from a generator keyed by (seed, step, batch
// of the step), so a resumed run draws what the uninterrupted one did. timm's random streams
// (numpy) are not reproduced; the distributions and the mixing are.
//
//   MixupOptions mix{.mixup_alpha = 0.2, .cutmix_alpha = 1.0};
//   const MixDraw d = draw_mix(mix, images.size(2), images.size(3), seed, step);
//   Tensor loss = mixed_cross_entropy(model(mix_images(images, d)), labels, d, 0.1);
#pragma once

#include <cstdint>
#include <string>

#include "afinar/core/tensor.h"

namespace afinar::train {

struct MixupOptions {
  double mixup_alpha = 0;    // --mixup: Beta(α, α) of mixup's λ; 0 turns mixup off
  double cutmix_alpha = 0;   // --cutmix: Beta(α, α) of cutmix's λ; 0 turns cutmix off
  double prob = 1.0;         // --mixup-prob: the probability that a batch is mixed at all
  double switch_prob = 0.5;  // --mixup-switch-prob: cutmix's share when both are on
  int64_t off_epoch = 0;     // --mixup-off-epoch: the run's epochs from this one (0-based) train
                             // unmixed, as timm's; 0: never
  bool enabled() const { return (mixup_alpha > 0 || cutmix_alpha > 0) && prob > 0; }
  bool enabled_in(int64_t epoch) const {
    return enabled() && (off_epoch == 0 || epoch < off_epoch);
  }
};

// Refuses negative or non-finite α, probabilities outside [0, 1] and a negative off_epoch, naming
// the settings.
void check_mixup(const MixupOptions& options, const std::string& where);

// timm's spelling of the settings: "Mixup(mixup_alpha=0.2, cutmix_alpha=1, prob=1,
// switch_prob=0.5, mode=batch)", then " until epoch N" (1-based: the last mixed one) with an
// off_epoch.
std::string mixup_str(const MixupOptions& options);

// One batch's draw: λ = 1 means the batch is left as it is.
struct MixDraw {
  double lam = 1.0;
  bool cutmix = false;
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;  // cutmix's box: rows [y0, y1), columns [x0, x1)
};

// The draw for batch `micro` (0 without gradient accumulation) of optimizer step `step` of a run
// seeded `seed`, for images of height × width.
MixDraw draw_mix(const MixupOptions& options, int64_t height, int64_t width, uint64_t seed,
                 int64_t step, int64_t micro = 0);

// The cutmix box and corrected λ for a drawn λ and a centre (cy, cx) (timm's rand_bbox and
// cutmix_bbox_and_lam with correct_lam; exposed for tests).
MixDraw cutmix_box(double lam, int64_t height, int64_t width, int64_t cy, int64_t cx);

// images [N, C, H, W] mixed with flip(images, {0}) as `draw` says, on their device (a batch of
// data: the cutmix paste is not recorded for autograd).
Tensor mix_images(const Tensor& images, const MixDraw& draw);

// λ·CE(logits, labels) + (1-λ)·CE(logits, flip(labels, {0})), each with label smoothing ε
// (the mean over the batch); plain CE when λ = 1.
Tensor mixed_cross_entropy(const Tensor& logits, const Tensor& labels, const MixDraw& draw,
                           double label_smoothing);

}  // namespace afinar::train
