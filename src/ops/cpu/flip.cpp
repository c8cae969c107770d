// CPU reference of flip: the plan's walk (include/afinar/ops/flip.h) one output row at a time.
// The outer merged dims give the row's first source element; the innermost dim is a plain copy
// (step 1), a reversed copy (step -1, the horizontal flip of NCHW images) or a strided loop.
// Elements move as opaque words of the dtype's size, so one instantiation per size serves every
// dtype and the bits come out unchanged.
#include <algorithm>

#include "afinar/ops/flip.h"

namespace afinar::cpu {

namespace {

template <typename Word>
void flip_words(Word* y, const Word* x, const ops::FlipPlan& p) {
  const int64_t nd = int64_t(p.sizes.size());
  const int64_t inner = p.sizes.back(), step = p.steps.back();
  const int64_t rows = numel_of(p.sizes) / inner;
#pragma omp parallel for schedule(static) if (rows * inner > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t src = p.base, rest = r;  // the row's coordinates, innermost outer dim first
    for (int64_t d = nd - 2; d >= 0; --d) {
      src += (rest % p.sizes[size_t(d)]) * p.steps[size_t(d)];
      rest /= p.sizes[size_t(d)];
    }
    const Word* from = x + src;
    Word* to = y + r * inner;
    if (step == 1) {
      std::copy_n(from, inner, to);
    } else if (step == -1) {
      for (int64_t j = 0; j < inner; ++j) to[j] = from[-j];  // vectorises (reversing shuffles)
    } else {
      for (int64_t j = 0; j < inner; ++j) to[j] = from[j * step];
    }
  }
}

void flip(const Tensor& y, const Tensor& x, const ops::FlipPlan& plan) {
  void* out = y.raw_data();
  const void* in = x.raw_data();
  switch (element_size(x.dtype())) {
    case 1:
      return flip_words(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(in), plan);
    case 2:
      return flip_words(static_cast<uint16_t*>(out), static_cast<const uint16_t*>(in), plan);
    case 4:
      return flip_words(static_cast<uint32_t*>(out), static_cast<const uint32_t*>(in), plan);
    case 8:
      return flip_words(static_cast<uint64_t*>(out), static_cast<const uint64_t*>(in), plan);
    default:
      AFN_FAIL("flip: dtype ", x.dtype(), " has an element size the CPU does not move");
  }
}

}  // namespace

AFN_REGISTER_KERNEL(flip, CPU, flip);

}  // namespace afinar::cpu
