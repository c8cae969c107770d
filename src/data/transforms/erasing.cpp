// erase and RandomErasing (Zhong et al., "Random Erasing Data Augmentation", 2017) on tensor
// images [..., C, H, W], after ToTensor / Normalize as in torchvision.
#include "data/transforms/internal.h"

namespace afinar::data {
namespace {

void check_tensor_image(const Tensor& img, const char* op) {
  AFN_CHECK(img.defined() && img.dim() >= 3, op,
            ": expected a tensor image of size (..., C, H, W), got ",
            img.defined() ? img.shape() : Shape{});
  AFN_CHECK(img.dtype() == DType::F32 || img.dtype() == DType::F64, op,
            ": expected a float32 or float64 tensor, got ", img.dtype());
  AFN_CHECK(img.device() == kCPU, op, ": runs on CPU tensors (the loader's), got ", img.device());
}

}  // namespace

Tensor erase(const Tensor& img, const CropBox& box, const Tensor& value) {
  check_tensor_image(img, "erase");
  const int64_t C = img.size(-3), H = img.size(-2), W = img.size(-1);
  AFN_CHECK(box.height >= 0 && box.width >= 0 && box.top >= 0 && box.left >= 0 &&
                box.top + box.height <= H && box.left + box.width <= W,
            "erase: box (top ", box.top, ", left ", box.left, ", height ", box.height, ", width ",
            box.width, ") does not fit in the ", H, "x", W, " image");
  AFN_CHECK(value.defined() && value.dim() == 3, "erase: value must be 3-D [C, h, w], got ",
            value.defined() ? value.shape() : Shape{});
  const Shape target = {C, box.height, box.width};
  for (int64_t d = 0; d < 3; ++d) {
    AFN_CHECK(value.size(d) == 1 || value.size(d) == target[size_t(d)], "erase: value of shape ",
              value.shape(), " does not broadcast to the erased region ", target);
  }
  Tensor out = empty(img.shape(), img.dtype());
  out.copy_(img);
  const Tensor v = value.cpu().to(img.dtype()).contiguous();
  const int64_t vc = value.size(0), vh = value.size(1), vw = value.size(2);
  const int64_t planes = H * W == 0 ? 0 : out.numel() / (H * W);
  visit_floating(img.dtype(), "erase", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    const T* src = v.data<T>();
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t c = p % C;
      for (int64_t y = 0; y < box.height; ++y) {
        for (int64_t x = 0; x < box.width; ++x) {
          const int64_t vi = ((vc == 1 ? 0 : c) * vh + (vh == 1 ? 0 : y)) * vw + (vw == 1 ? 0 : x);
          o[(p * H + box.top + y) * W + box.left + x] = src[vi];
        }
      }
    }
  });
  return out;
}

RandomErasing::RandomErasing(Options opt) : opt_(std::move(opt)) {
  detail::check_probability(opt_.p, "RandomErasing");
  detail::check_range(opt_.scale, "RandomErasing", "scale");
  detail::check_range(opt_.ratio, "RandomErasing", "ratio");
  AFN_CHECK(opt_.scale[0] >= 0 && opt_.scale[1] <= 1,
            "RandomErasing: scale should be between 0 and 1, got (", opt_.scale[0], ", ",
            opt_.scale[1], ")");
  AFN_CHECK(opt_.ratio[0] > 0, "RandomErasing: ratio must be positive, got (", opt_.ratio[0], ", ",
            opt_.ratio[1], ")");
  AFN_CHECK(opt_.random_value || !opt_.value.empty(), "RandomErasing: value must not be empty");
}

std::optional<CropBox> RandomErasing::get_params(ImageSize in, std::array<double, 2> scale,
                                                 std::array<double, 2> ratio, Generator& gen) {
  const double area = double(in.height * in.width);
  const double log_r0 = std::log(ratio[0]), log_r1 = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * draw_uniform(gen, scale[0], scale[1]);
    const double aspect = std::exp(draw_uniform(gen, log_r0, log_r1));
    const int64_t h = detail::py_round(std::sqrt(erase_area * aspect));
    const int64_t w = detail::py_round(std::sqrt(erase_area / aspect));
    if (!(h < in.height && w < in.width)) continue;
    const int64_t top = draw_int(gen, 0, in.height - h + 1);
    const int64_t left = draw_int(gen, 0, in.width - w + 1);
    return CropBox{top, left, h, w};
  }
  return std::nullopt;
}

Tensor RandomErasing::operator()(const Tensor& img, Generator& gen) const {
  check_tensor_image(img, "RandomErasing");
  if (!draw_bernoulli(gen, opt_.p)) return img;
  const int64_t C = img.size(-3);
  AFN_CHECK(opt_.random_value || opt_.value.size() == 1 || int64_t(opt_.value.size()) == C,
            "RandomErasing: value must have a single value or ", C,
            " (number of input channels), got ", opt_.value.size());
  const auto box = get_params({img.size(-2), img.size(-1)}, opt_.scale, opt_.ratio, gen);
  if (!box) return img;
  const Tensor value = opt_.random_value
                           ? randn({C, box->height, box->width}, DType::F32, gen)
                           : from_vector(opt_.value, {int64_t(opt_.value.size()), 1, 1});
  return erase(img, *box, value);
}

}  // namespace afinar::data
