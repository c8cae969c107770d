// torchvision 0.14's functional_tensor ops on uint8 images: the path its transforms take when
// the image is a tensor. AugMix converts its PIL input to one, so its ops run here and not
// through Pillow (transforms.h). The two paths round differently; with f the factor, x a byte:
//
//   blend(a, b, f)   uint8(clamp(float(f)·a + float(1 - f)·b, 0, 255)): float32, truncated
//                    (Pillow forms b + f·(a - b) in float)
//   grey             uint8(0.2989 R + 0.587 G + 0.114 B) in float32, truncated (Pillow: fixed
//   point,
//                    rounded)
//   brightness       blend(img, 0, f)
//   saturation       blend(img, grey, f); a grey image is returned unchanged
//   contrast         blend(img, mean, f), mean = Σ grey / (H·W) in float32 (not rounded)
//   sharpness        blend(img, blur, f), blur = round(Σ 3×3 [1 1 1; 1 5 1; 1 1 1]/13 · x) inside,
//                    the border rows and columns kept; images of side <= 2 unchanged
//   autocontrast     per channel uint8(clamp((x - lo)·(255 / (hi - lo)), 0, 255)) in float32, lo
//                    and hi the channel's extremes (lo = 0, scale 1 when hi == lo)
//   affine / rotate  grid_sample(align_corners=False, zeros outside) of the inverse map M =
//                    [a b c; d e f] (torchvision's _get_inverse_affine_matrix about the centre):
//                    output pixel (i, j) sits at x = j + 0.5 - W/2, y = i + 0.5 - H/2; it reads
//                    the input at u = (a·x + b·y + c)/(W/2), v likewise with d, e, f and H/2,
//                    unnormalised to (u + 1)·W/2 - 0.5 (pixel centres at integers), all float32.
//                    Nearest rounds half to even; bilinear weighs the four neighbours by the
//                    distances and rounds the sum; neighbours outside the image count as 0.
//
// Posterize, solarize, equalize and invert give Pillow's bytes on either path.
#pragma once

#include <array>

#include "data/transforms/internal.h"

namespace afinar::data::detail {

Image adjust_brightness_tensor(const Image& img, double factor);
Image adjust_saturation_tensor(const Image& img, double factor);
Image adjust_contrast_tensor(const Image& img, double factor);
Image adjust_sharpness_tensor(const Image& img, double factor);
Image autocontrast_tensor(const Image& img);
// The warp of torchvision's tensor affine and rotate (expand=False): `inverse` is M above, about
// the image centre. Nearest or bilinear only: torchvision's tensor path has no bicubic warp.
Image warp_affine_tensor(const Image& img, const std::array<double, 6>& inverse,
                         Interpolation interpolation);

}  // namespace afinar::data::detail
