// ToTensor and Normalize: the step from PIL's uint8 H×W×C to the network's float32 C×H×W.
//   to_tensor:  y[c,h,w] = float(x[h,w,c]) / 255      (torch's float32 division)
//   normalize:  y[..., c, h, w] = (x[..., c, h, w] - mean_c) / std_c, mean and std rounded to
//               the tensor's dtype first (torch.as_tensor(mean, dtype=x.dtype)).
#include "data/transforms/internal.h"

namespace afinar::data {

Tensor to_tensor(const Image& img) {
  detail::check_image(img, "to_tensor");
  const int64_t C = img.channels, HW = img.height * img.width;
  Tensor out = empty({C, img.height, img.width}, DType::F32);
  float* o = out.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t i = 0; i < HW; ++i) o[c * HW + i] = float(img.data[size_t(i * C + c)]) / 255.0f;
  }
  return out;
}

namespace {

template <typename T>
void normalize_planes(const T* x, T* y, int64_t planes, int64_t C, int64_t HW,
                      const std::vector<T>& mean, const std::vector<T>& std) {
  for (int64_t p = 0; p < planes; ++p) {
    const T m = mean[size_t(p % C)], s = std[size_t(p % C)];
    for (int64_t i = 0; i < HW; ++i) y[p * HW + i] = (x[p * HW + i] - m) / s;
  }
}

}  // namespace

Tensor normalize(const Tensor& img, const std::vector<double>& mean,
                 const std::vector<double>& std) {
  AFN_CHECK(img.defined() && img.dim() >= 3,
            "normalize: expected a tensor image of size (..., C, H, W), got ",
            img.defined() ? img.shape() : Shape{});
  AFN_CHECK(is_floating(img.dtype()) && (img.dtype() == DType::F32 || img.dtype() == DType::F64),
            "normalize: input tensor should be a float tensor (float32 or float64), got ",
            img.dtype());
  AFN_CHECK(img.device() == kCPU, "normalize: runs on CPU tensors (the loader's), got ",
            img.device());
  const int64_t C = img.size(-3);
  auto check_stats = [&](const std::vector<double>& v, const char* name) {
    AFN_CHECK(v.size() == 1 || int64_t(v.size()) == C, "normalize: ", name, " has ", v.size(),
              " values but the image has ", C, " channels");
  };
  check_stats(mean, "mean");
  check_stats(std, "std");
  Tensor x = img.contiguous();
  Tensor y = empty(img.shape(), img.dtype());
  const int64_t HW = img.size(-2) * img.size(-1), planes = HW == 0 ? 0 : img.numel() / HW;
  return visit_floating(img.dtype(), "normalize", [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Both broadcast to C values in the tensor's dtype.
    std::vector<T> m(static_cast<size_t>(C)), s(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      m[size_t(c)] = T(mean[mean.size() == 1 ? 0 : size_t(c)]);
      s[size_t(c)] = T(std[std.size() == 1 ? 0 : size_t(c)]);
      AFN_CHECK(s[size_t(c)] != T(0), "normalize: std evaluated to zero after conversion to ",
                img.dtype(), ", leading to division by zero");
    }
    normalize_planes(x.data<T>(), y.data<T>(), planes, C, HW, m, s);
    return y;
  });
}

Normalize::Normalize(std::vector<double> mean, std::vector<double> std)
    : mean_(std::move(mean)), std_(std::move(std)) {
  AFN_CHECK(!mean_.empty() && !std_.empty(), "Normalize: mean and std must not be empty");
  for (double s : std_) AFN_CHECK(s != 0.0, "Normalize: std must not contain 0");
}

}  // namespace afinar::data
