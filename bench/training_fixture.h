// What the whole-model training benchmarks share (models_bench.cpp, train_step_bench.cpp,
// trainer_overhead_bench.cpp): a synthetic classification batch and the median of step times.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "afinar/core/rng.h"
#include "afinar/core/tensor.h"

namespace afinar::bench {

// On the host: images [batch, 3, size, size] drawn from N(0, 1) by Generator(1), labels [batch]
// int64 with label i = i % classes.
struct SyntheticBatch {
  Tensor images, labels;
};

inline SyntheticBatch synthetic_batch(int64_t batch, int64_t size, int64_t classes) {
  Generator gen(1);
  SyntheticBatch b{randn({batch, 3, size, size}, DType::F32, gen), empty({batch}, DType::I64)};
  for (int64_t i = 0; i < batch; ++i) b.labels.data<int64_t>()[i] = i % classes;
  return b;
}

// The middle element of the sorted times (the upper one of the two middles for an even count).
inline double median(std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace afinar::bench
