// CPU reference of the row sum behind sum / mean: a double accumulator per row.
#include "afinar/ops/reduce.h"

namespace afinar::cpu {

namespace {

void sum_rows(const Tensor& out, const Tensor& x, ReduceAlgo algo) {
  AFN_CHECK(algo == ReduceAlgo::Default || algo == ReduceAlgo::Naive,
            "sum: the WarpShuffle and Cub algorithms are CUDA kernels; on the cpu use Default");
  visit_floating(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t outer = x.size(0), inner = x.size(1);
    const T* px = x.data<T>();
    T* py = out.data<T>();
#pragma omp parallel for if (outer * inner > 262144)
    for (int64_t o = 0; o < outer; ++o) {
      double acc = 0;
      const T* row = px + o * inner;
      for (int64_t i = 0; i < inner; ++i) acc += double(row[i]);
      py[o] = T(acc);
    }
  });
}

}  // namespace

AFN_REGISTER_KERNEL(sum_rows, CPU, sum_rows);

}  // namespace afinar::cpu
