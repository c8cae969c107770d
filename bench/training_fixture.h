// What the whole-model training benchmarks share (models_bench.cpp, train_step_bench.cpp,
// trainer_overhead_bench.cpp, and the per-step optimizer and loss-scaler benchmarks): a synthetic
// classification batch, ResNet18's parameter shapes and the median of step times.
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

// ResNet18's parameter shapes (62 tensors, 11.7M floats), generated: conv weights, BN weight
// and bias per conv, fc: what a step's optimizer and loss scaler go over.
inline std::vector<Shape> resnet18_parameter_shapes() {
  std::vector<Shape> s = {{64, 3, 7, 7}, {64}, {64}};
  int64_t in = 64;
  for (int64_t out : {64, 128, 256, 512}) {
    for (int block = 0; block < 2; ++block) {
      const int64_t cin = block == 0 ? in : out;
      s.insert(s.end(), {{out, cin, 3, 3}, {out}, {out}, {out, out, 3, 3}, {out}, {out}});
      if (block == 0 && cin != out) s.insert(s.end(), {{out, cin, 1, 1}, {out}, {out}});
    }
    in = out;
  }
  s.insert(s.end(), {{1000, 512}, {1000}});
  return s;
}

// The middle element of the sorted times (the upper one of the two middles for an even count).
inline double median(std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace afinar::bench
