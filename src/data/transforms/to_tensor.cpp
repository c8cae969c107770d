// ToTensor and Normalize: the step from PIL's uint8 H×W×C to the network's float32 C×H×W.
//   to_tensor:  y[c,h,w] = float(x[h,w,c]) / 255      (torch's float32 division)
//   normalize:  y[..., c, h, w] = (x[..., c, h, w] - mean_c) / std_c, mean and std rounded to
//               the tensor's dtype first (torch.as_tensor(mean, dtype=x.dtype)).
#include "data/transforms/internal.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace afinar::data {

namespace detail {

std::vector<float> to_tensor_table(int64_t channels) {
  std::vector<float> table(size_t(channels) * 256);
  for (size_t i = 0; i < table.size(); ++i) table[i] = float(i % 256) / 255.0f;
  return table;
}

namespace {

#if defined(__AVX2__)
// Byte shuffles that pick, out of 8 RGB pixels (24 bytes: 16 in `lo`, 8 in `hi`), the 8 bytes of
// channel c in order, or in reverse order for a mirrored row; -1 lanes give zeros.
struct ChannelPicks {
  alignas(16) int8_t lo[3][16];
  alignas(16) int8_t hi[3][16];
};

ChannelPicks channel_picks(bool mirrored) {
  ChannelPicks picks;
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < 16; ++k) {
      const int b = 3 * (mirrored ? 7 - k : k) + c;  // the byte of output k's pixel
      picks.lo[c][k] = int8_t(k < 8 && b < 16 ? b : -1);
      picks.hi[c][k] = int8_t(k < 8 && b >= 16 ? b - 16 : -1);
    }
  }
  return picks;
}

// Outputs x .. x + 7 of the three planes of one row from the 8 pixels at p: each channel's bytes
// become 8 int32 indices, looked up with one gather in that channel's 256 values.
void rgb_block(const uint8_t* p, const float* table, const ChannelPicks& picks, float* o,
               int64_t plane) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i hi = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16));
  for (int c = 0; c < 3; ++c) {
    const __m128i bytes = _mm_or_si128(
        _mm_shuffle_epi8(lo, _mm_load_si128(reinterpret_cast<const __m128i*>(picks.lo[c]))),
        _mm_shuffle_epi8(hi, _mm_load_si128(reinterpret_cast<const __m128i*>(picks.hi[c]))));
    const __m256i index = _mm256_cvtepu8_epi32(bytes);
    _mm256_storeu_ps(o + c * plane, _mm256_i32gather_ps(table + c * 256, index, 4));
  }
}
#endif

}  // namespace

Tensor image_to_tensor(const Image& img, const float* table, bool mirrored) {
  const int64_t C = img.channels, H = img.height, W = img.width, HW = H * W;
  Tensor out = empty({C, H, W}, DType::F32);
  float* o = out.data<float>();
  // One pass over the pixels, each channel to its plane; a mirrored row is read from its end.
  const int64_t step = mirrored ? -C : C;
  for (int64_t y = 0; y < H; ++y) {
    float* row = o + y * W;
    int64_t x = 0;
#if defined(__AVX2__)
    if (C == 3) {
      static const ChannelPicks forward = channel_picks(false), backward = channel_picks(true);
      for (; x + 8 <= W; x += 8) {
        // Outputs x .. x + 7 read pixels x .. x + 7, or W - 8 - x .. W - 1 - x mirrored.
        rgb_block(img.pixel(y, mirrored ? W - 8 - x : x), table, mirrored ? backward : forward,
                  row + x, HW);
      }
    }
#endif
    const uint8_t* p = img.pixel(y, mirrored ? W - 1 - x : x);
    for (; x < W; ++x, p += step) {
      for (int64_t c = 0; c < C; ++c) row[c * HW + x] = table[c * 256 + p[c]];
    }
  }
  return out;
}

}  // namespace detail

Tensor to_tensor(const Image& img) {
  detail::check_image(img, "to_tensor");
  // float(v) / 255 for the 256 byte values, looked up instead of divided per pixel.
  static const std::vector<float> table = detail::to_tensor_table(3);
  return detail::image_to_tensor(img, table.data(), false);
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
