// The automatic augmentation policies (data/auto_augment.h) against torchvision 0.14 on PIL
// images (goldens from tools/goldens/auto_augment.py): every op byte for byte at the policies'
// magnitudes (the geometric ones in each interpolation), the augmentation spaces value for value,
// the ImageNet, CIFAR10 and SVHN policy tables; and the draws' distributions.
#include "afinar/data/auto_augment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "afinar/io/hdf5.h"
#include "data/augment_testing.h"
#include "testing/errors.h"
#include "testing/fixtures.h"

namespace afinar::data {
namespace {

using namespace testing_augment;

const hdf5::File& golden_file() {
  static const hdf5::File f = hdf5::File::open(testing::test_data_path("goldens/auto_augment.h5"));
  return f;
}

Image image_at(const std::string& path) {
  return golden_image(golden_file(), path);
}

TEST(AutoAugmentOps, MatchTorchvisionGolden) {
  const hdf5::File& f = golden_file();
  const std::vector<std::string> cases = f.list("/ops");
  ASSERT_GE(cases.size(), 50u);
  std::set<std::string> ops_seen;
  for (const std::string& name : cases) {
    const std::string path = "/ops/" + name;
    const std::string op = f.read_attr_string(path, "op");
    ops_seen.insert(op);
    const Image in = image_at("/inputs/" + f.read_attr_string(path, "input"));
    const Image want = image_at(path + "/expected");
    const auto mode = Interpolation(f.read_attr_int(path, "mode"));
    const Image got =
        apply_augment_op(in, op_named(op), f.read_attr_double(path, "magnitude"), mode);
    EXPECT_EQ(bytes_differing(got, want), 0) << name << ": bytes that differ from torchvision's";
  }
  EXPECT_EQ(ops_seen.size(), 15u);  // every op
}

// Each policy's space: the ops in torchvision's order, the same magnitudes to the last bit of
// torch's float32 linspace, the same signedness.
TEST(AugmentSpace, MatchesTorchvisionBitForBit) {
  const hdf5::File& f = golden_file();
  for (const std::string& key : f.list("/space")) {
    SCOPED_TRACE(key);
    const std::string path = "/space/" + key;
    const int64_t bins = f.read_attr_int(path, "num_bins");
    const ImageSize size{f.read_attr_int(path, "height"), f.read_attr_int(path, "width")};
    const std::vector<AugmentSpace> space = key.starts_with("trivial") ? trivial_augment_space(bins)
                                            : key.starts_with("rand")
                                                ? rand_augment_space(bins, size)
                                                : auto_augment_space(bins, size);
    const std::vector<std::string> ops = split(f.read_attr_string(path, "ops"), ',');
    ASSERT_EQ(space.size(), ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      EXPECT_EQ(augment_op_name(space[i].op), ops[i]);
      const std::string dataset = path + "/" + ops[i];
      if (!f.exists(dataset)) {
        EXPECT_TRUE(space[i].magnitudes.empty()) << ops[i];
        EXPECT_FALSE(space[i].is_signed) << ops[i];
        continue;
      }
      EXPECT_EQ(space[i].magnitudes, f.read_tensor(dataset).to_vector<double>()) << ops[i];
      EXPECT_EQ(space[i].is_signed, f.read_attr_int(dataset, "signed") != 0) << ops[i];
    }
  }
}

TEST(AutoAugment, PoliciesAreTorchvisions) {
  const hdf5::File& f = golden_file();
  for (AutoAugmentPolicy p :
       {AutoAugmentPolicy::ImageNet, AutoAugmentPolicy::Cifar10, AutoAugmentPolicy::Svhn}) {
    const std::string path = detail::concat("/policy/", auto_augment_policy_name(p));
    SCOPED_TRACE(path);
    const std::vector<std::string> subs = split(f.read_attr_string(path, "ops"), ';');
    const std::vector<double> steps = f.read_tensor(path + "/steps").to_vector<double>();
    const auto& policy = AutoAugment::sub_policies(p);
    ASSERT_EQ(policy.size(), subs.size());
    for (size_t i = 0; i < policy.size(); ++i) {
      const std::vector<std::string> names = split(subs[i], ',');
      for (size_t j = 0; j < 2; ++j) {
        const AutoAugment::Step& s = policy[i][j];
        EXPECT_EQ(augment_op_name(s.op), names.at(j)) << i;
        EXPECT_EQ(s.probability, steps[(i * 2 + j) * 2]) << i;
        EXPECT_EQ(double(s.bin), steps[(i * 2 + j) * 2 + 1]) << i;
      }
    }
  }
  EXPECT_EQ(f.list("/policy").size(), 3u);
}

TEST(TrivialAugmentWide, DrawsOneOpUniformlyWithAUniformBin) {
  const TrivialAugmentWide ta;
  const std::vector<AugmentSpace> space = trivial_augment_space(31);
  Generator gen(7);
  std::vector<std::vector<AugmentStep>> draws;
  std::map<int64_t, int64_t> rotate_bins;
  for (int i = 0; i < 7000; ++i) {
    draws.push_back(ta.get_params({32, 32}, gen));
    ASSERT_EQ(draws.back().size(), 1u);
    const AugmentStep& s = draws.back()[0];
    if (s.op == AugmentOp::Rotate) ++rotate_bins[std::lround(std::abs(s.magnitude) / 4.5)];
  }
  std::map<AugmentOp, double> p;
  for (const AugmentSpace& s : space) p[s.op] = 1.0 / double(space.size());
  expect_draws_follow(space, p, draws);
  EXPECT_EQ(rotate_bins.size(), 31u);  // every bin of 0..135 by 4.5 degrees drawn
}

TEST(RandAugment, DrawsNumOpsOpsAtTheGivenBin) {
  const RandAugment ra({.num_ops = 3, .magnitude = 12});
  const std::vector<AugmentSpace> space = rand_augment_space(31, {60, 80});
  Generator gen(8);
  std::vector<std::vector<AugmentStep>> draws;
  for (int i = 0; i < 3000; ++i) {
    draws.push_back(ra.get_params({60, 80}, gen));
    ASSERT_EQ(draws.back().size(), 3u);
    for (const AugmentStep& s : draws.back()) {
      if (s.op == AugmentOp::Rotate) {
        EXPECT_DOUBLE_EQ(std::abs(s.magnitude), 12.0);  // bin 12 of 0..30 by 1
      }
    }
  }
  std::map<AugmentOp, double> p;
  for (const AugmentSpace& s : space) p[s.op] = 1.0 / double(space.size());
  expect_draws_follow(space, p, draws);
}

// AutoAugment: a sub-policy uniformly, each step with its probability: op o appears with
// probability Σ over the steps naming o of p_step / 25.
TEST(AutoAugment, AppliesEachSubPolicyStepWithItsProbability) {
  const AutoAugment aa;
  const std::vector<AugmentSpace> space = auto_augment_space(10, {50, 50});
  std::map<AugmentOp, double> per_draw;
  double expected_steps = 0;
  for (const auto& sub : AutoAugment::sub_policies(AutoAugmentPolicy::ImageNet))
    for (const AutoAugment::Step& s : sub) {
      per_draw[s.op] += s.probability / 25.0;
      expected_steps += s.probability / 25.0;
    }
  Generator gen(9);
  std::vector<std::vector<AugmentStep>> draws;
  int64_t steps = 0;
  const int n = 6000;
  for (int i = 0; i < n; ++i) {
    draws.push_back(aa.get_params({50, 50}, gen));
    steps += int64_t(draws.back().size());
  }
  std::map<AugmentOp, double> p;  // the share of all applied steps
  for (const auto& [op, q] : per_draw) p[op] = q / expected_steps;
  expect_draws_follow(space, p, draws);
  EXPECT_NEAR(double(steps) / n, expected_steps, 0.05);
}

// operator() applies what get_params draws from the same generator state, with its
// interpolation; auto_augment_transform builds the policy a recipe names with the one it is given.
TEST(AutoAugmentPolicies, ApplyTheirDrawnSteps) {
  const Image img = noise_image(24, 30, 3);
  for (Interpolation mode : {Interpolation::Nearest, Interpolation::Bilinear}) {
    SCOPED_TRACE(interpolation_name(mode));
    const TrivialAugmentWide ta(31, mode);
    const RandAugment ra({.interpolation = mode});
    const AutoAugment imagenet(AutoAugmentPolicy::ImageNet, mode);
    const AutoAugment svhn(AutoAugmentPolicy::Svhn, mode);
    const std::vector<std::pair<std::string, ImageTransform>> named = {
        {"ta_wide", ta}, {"ra", ra}, {"imagenet", imagenet}, {"svhn", svhn}};
    for (uint64_t seed = 0; seed < 40; ++seed) {
      Generator a(seed), b(seed), c(seed), d(seed);
      const auto steps_of = [&](const auto& policy) {
        return apply_augment_steps(img, policy.get_params({24, 30}, b), mode).data;
      };
      EXPECT_EQ(ta(img, a).data, steps_of(ta));
      EXPECT_EQ(ra(img, a).data, steps_of(ra));
      EXPECT_EQ(imagenet(img, a).data, steps_of(imagenet));
      EXPECT_EQ(svhn(img, a).data, steps_of(svhn));
      for (const auto& [name, policy] : named)
        EXPECT_EQ(auto_augment_transform(name, 9, mode)(img, c).data, policy(img, d).data) << name;
    }
  }
  // SVHN's geometric steps resample: another interpolation gives other bytes for some draws.
  int64_t differ = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Generator a(seed), b(seed);
    differ += AutoAugment(AutoAugmentPolicy::Svhn, Interpolation::Nearest)(img, a).data !=
              AutoAugment(AutoAugmentPolicy::Svhn, Interpolation::Bilinear)(img, b).data;
  }
  EXPECT_GT(differ, 0);
}

TEST(AutoAugmentPolicies, BadSettingsAreClearErrors) {
  EXPECT_NE(testing::error_of([] { auto_augment_transform("rand-m9"); })
                .find("unknown policy 'rand-m9' (ta_wide: TrivialAugmentWide, ra: RandAugment, "
                      "imagenet, cifar10 or svhn"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] {
              RandAugment({.magnitude = 31});
            }).find("magnitude must be in [0, 31)"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { TrivialAugmentWide(1); }).find("num_magnitude_bins"),
            std::string::npos);
  EXPECT_NE(
      testing::error_of([] { posterize(noise_image(2, 2, 1), 9); }).find("bits must be in [0, 8]"),
      std::string::npos);
  EXPECT_NE(
      testing::error_of([] { apply_augment_op(Image(), AugmentOp::Rotate, 3); }).find("empty"),
      std::string::npos);
}

}  // namespace
}  // namespace afinar::data
