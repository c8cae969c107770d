// Helpers of the augmentation policies' tests (auto_augment_test.cpp, augmix_test.cpp): images
// and op names as tools/goldens/auto_augment.py and augmix.py write them, and a check of the
// policies' draws.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "afinar/core/rng.h"
#include "afinar/data/auto_augment.h"
#include "afinar/io/hdf5.h"

namespace afinar::data::testing_augment {

// A uint8 [H, W, C] dataset as an Image.
inline Image golden_image(const hdf5::File& f, const std::string& path) {
  const Tensor t = f.read_tensor(path);
  Image img(t.size(0), t.size(1), t.size(2));
  img.data = t.to_vector<uint8_t>();
  return img;
}

// The op torchvision names `name` ("ShearX", ...).
inline AugmentOp op_named(const std::string& name) {
  for (int i = 0; i <= int(AugmentOp::Invert); ++i)
    if (name == augment_op_name(AugmentOp(i))) return AugmentOp(i);
  ADD_FAILURE() << "no op named " << name;
  return AugmentOp::Identity;
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// Random bytes, so every op changes something.
inline Image noise_image(int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  Image img(h, w, 3);
  for (uint8_t& v : img.data) v = uint8_t(draw_int(gen, 0, 256));
  return img;
}

// The bytes where two images differ (their sizes must agree).
inline int64_t bytes_differing(const Image& got, const Image& want) {
  EXPECT_EQ(got.height, want.height);
  EXPECT_EQ(got.width, want.width);
  EXPECT_EQ(got.channels, want.channels);
  if (got.data.size() != want.data.size()) return int64_t(want.data.size());
  int64_t differ = 0;
  for (size_t i = 0; i < want.data.size(); ++i) differ += got.data[i] != want.data[i];
  return differ;
}

// n draws: every op within 5 standard deviations of n·p_op, every magnitude one of the op's bins
// (signed ones with both signs about equally often).
inline void expect_draws_follow(const std::vector<AugmentSpace>& space,
                                const std::map<AugmentOp, double>& p_op,
                                const std::vector<std::vector<AugmentStep>>& draws) {
  std::map<AugmentOp, int64_t> count;
  std::map<AugmentOp, int64_t> negative, nonzero;
  int64_t total = 0;
  for (const auto& steps : draws) {
    for (const AugmentStep& s : steps) {
      ++count[s.op];
      ++total;
      const auto it = std::find_if(space.begin(), space.end(),
                                   [&](const AugmentSpace& a) { return a.op == s.op; });
      ASSERT_NE(it, space.end());
      if (it->magnitudes.empty()) {
        EXPECT_EQ(s.magnitude, 0.0);
        continue;
      }
      negative[s.op] += s.magnitude < 0;
      nonzero[s.op] += s.magnitude != 0;  // bin 0 of a signed op is 0 either way
      const double m = it->is_signed ? std::abs(s.magnitude) : s.magnitude;
      EXPECT_NE(std::find(it->magnitudes.begin(), it->magnitudes.end(), m), it->magnitudes.end())
          << augment_op_name(s.op) << " " << s.magnitude;
    }
  }
  for (const auto& [op, p] : p_op) {
    const double n = double(total), mean = n * p, sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(double(count[op]), mean, 5 * sd) << augment_op_name(op);
  }
  for (const AugmentSpace& s : space) {
    if (!s.is_signed || nonzero[s.op] == 0) continue;
    const double n = double(nonzero[s.op]);
    EXPECT_NEAR(double(negative[s.op]), n / 2, 5 * std::sqrt(n / 4)) << augment_op_name(s.op);
  }
}

}  // namespace afinar::data::testing_augment
