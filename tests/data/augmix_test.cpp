// AugMix and the tensor path of the augmentation ops (data/auto_augment.h) against torchvision
// 0.14 (goldens from tools/goldens/augmix.py): every op of AugMix's space on uint8 tensors byte
// for byte, in nearest and bilinear; AugMix's augmentation space value for value; whole AugMix
// outputs replayed from torchvision's draws; and the distributions of afinar's own draws.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "afinar/data/auto_augment.h"
#include "afinar/io/hdf5.h"
#include "data/augment_testing.h"
#include "testing/errors.h"
#include "testing/fixtures.h"

namespace afinar::data {
namespace {

using namespace testing_augment;

const hdf5::File& golden_file() {
  static const hdf5::File f = hdf5::File::open(testing::test_data_path("goldens/augmix.h5"));
  return f;
}

Image input_of(const std::string& case_path) {
  return golden_image(golden_file(),
                      "/inputs/" + golden_file().read_attr_string(case_path, "input"));
}

TEST(AugmentOpsTensorPath, MatchTorchvisionGolden) {
  const hdf5::File& f = golden_file();
  const std::vector<std::string> cases = f.list("/ops");
  ASSERT_GE(cases.size(), 40u);
  std::set<std::string> ops_seen;
  for (const std::string& name : cases) {
    const std::string path = "/ops/" + name;
    const std::string op = f.read_attr_string(path, "op");
    ops_seen.insert(op);
    const Image got =
        apply_augment_op(input_of(path), op_named(op), f.read_attr_double(path, "magnitude"),
                         Interpolation(f.read_attr_int(path, "mode")), ImageBackend::Tensor);
    EXPECT_EQ(bytes_differing(got, golden_image(f, path + "/expected")), 0)
        << name << ": bytes that differ from torchvision's";
  }
  EXPECT_EQ(ops_seen.size(), 13u);  // every op of AugMix's space
}

// The paths differ: on the same image and magnitude, Pillow's and the tensor's bytes are not all
// equal for the blends and the warps (so the golden above tells them apart).
TEST(AugmentOpsTensorPath, DifferFromPillowsWhereTorchvisionsDo) {
  const Image img = noise_image(31, 37, 5);
  for (AugmentOp op : {AugmentOp::Contrast, AugmentOp::Color, AugmentOp::Sharpness,
                       AugmentOp::ShearX, AugmentOp::Rotate}) {
    EXPECT_NE(apply_augment_op(img, op, 0.37, Interpolation::Bilinear, ImageBackend::Tensor).data,
              apply_augment_op(img, op, 0.37, Interpolation::Bilinear, ImageBackend::Pil).data)
        << augment_op_name(op);
  }
  for (AugmentOp op : {AugmentOp::Posterize, AugmentOp::Solarize, AugmentOp::Equalize}) {
    EXPECT_EQ(apply_augment_op(img, op, 5, Interpolation::Nearest, ImageBackend::Tensor).data,
              apply_augment_op(img, op, 5, Interpolation::Nearest, ImageBackend::Pil).data)
        << augment_op_name(op);
  }
}

TEST(AugMixSpace, MatchesTorchvisionBitForBit) {
  const hdf5::File& f = golden_file();
  const std::vector<std::string> keys = f.list("/space");
  ASSERT_EQ(keys.size(), 6u);
  for (const std::string& key : keys) {
    SCOPED_TRACE(key);
    const std::string path = "/space/" + key;
    const ImageSize size{f.read_attr_int(path, "height"), f.read_attr_int(path, "width")};
    const std::vector<AugmentSpace> space =
        augmix_space(10, size, f.read_attr_int(path, "all_ops") != 0);
    const std::vector<std::string> ops = split(f.read_attr_string(path, "ops"), ',');
    ASSERT_EQ(space.size(), ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      EXPECT_EQ(augment_op_name(space[i].op), ops[i]);
      const std::string dataset = path + "/" + ops[i];
      if (!f.exists(dataset)) {
        EXPECT_TRUE(space[i].magnitudes.empty()) << ops[i];
        continue;
      }
      EXPECT_EQ(space[i].magnitudes, f.read_tensor(dataset).to_vector<double>()) << ops[i];
      EXPECT_EQ(space[i].is_signed, f.read_attr_int(dataset, "signed") != 0) << ops[i];
    }
  }
}

// torchvision's draws (its Dirichlet weights and each chain's ops, as the generator recorded
// them) replayed through AugMix::mix give torchvision's image.
TEST(AugMix, MixesLikeTorchvisionGivenItsDraws) {
  const hdf5::File& f = golden_file();
  const std::vector<std::string> cases = f.list("/mix");
  ASSERT_EQ(cases.size(), 6u);
  for (const std::string& name : cases) {
    const std::string path = "/mix/" + name;
    AugMix::Params p;
    p.original_weight = float(f.read_attr_double(path, "original_weight"));
    for (double w : f.read_attr_doubles(path, "chain_weights")) p.chain_weights.push_back(float(w));
    for (const std::string& chain : split(f.read_attr_string(path, "chains"), ';')) {
      std::vector<AugmentStep>& steps = p.chains.emplace_back();
      for (const std::string& step : split(chain, ',')) {
        const std::vector<std::string> op_magnitude = split(step, ':');
        ASSERT_EQ(op_magnitude.size(), 2u) << step;
        steps.push_back({op_named(op_magnitude[0]), std::stod(op_magnitude[1])});
      }
    }
    const auto mode = Interpolation(f.read_attr_int(path, "mode"));
    EXPECT_EQ(
        bytes_differing(AugMix::mix(input_of(path), p, mode), golden_image(f, path + "/expected")),
        0)
        << name;
  }
}

// The draws: three chains of 1 to 3 ops (or chain_depth), ops uniform over the space, bins below
// the severity, the weights a split of 1.
TEST(AugMix, DrawsChainsOfUniformOpsBelowTheSeverity) {
  const int64_t severity = 4;
  const AugMix augmix({.severity = severity});
  const std::vector<AugmentSpace> space = augmix_space(10, {40, 60});
  Generator gen(11);
  std::vector<std::vector<AugmentStep>> draws;
  std::map<size_t, int64_t> depths;
  double original = 0;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    const AugMix::Params p = augmix.get_params({40, 60}, gen);
    ASSERT_EQ(p.chains.size(), 3u);
    ASSERT_EQ(p.chain_weights.size(), 3u);
    double sum = p.original_weight;
    for (float w : p.chain_weights) {
      EXPECT_GE(w, 0.0f);
      sum += w;
    }
    EXPECT_NEAR(sum, 1.0, 4 * 1.2e-7);  // four float32 roundings of a split of 1
    original += p.original_weight;
    for (const auto& chain : p.chains) {
      ++depths[chain.size()];
      draws.push_back(chain);
      for (const AugmentStep& s : chain) {
        if (s.op != AugmentOp::Rotate) continue;
        EXPECT_LE(std::abs(s.magnitude), 30.0 / 9 * double(severity - 1) + 1e-5);  // bins 0..3
      }
    }
  }
  std::map<AugmentOp, double> p;
  for (const AugmentSpace& s : space) p[s.op] = 1.0 / double(space.size());
  expect_draws_follow(space, p, draws);
  ASSERT_EQ(depths.size(), 3u);  // depths 1, 2, 3, each a third of the chains
  for (const auto& [depth, count] : depths) {
    EXPECT_GE(depth, 1u);
    EXPECT_LE(depth, 3u);
    EXPECT_NEAR(double(count), 3.0 * n / 3, 5 * std::sqrt(3.0 * n * (1.0 / 3) * (2.0 / 3)));
  }
  // m0 ~ Beta(1, 1): mean 1/2, standard deviation 1/sqrt(12).
  EXPECT_NEAR(original / n, 0.5, 5 / std::sqrt(12.0 * n));

  const AugMix fixed({.mixture_width = 2, .chain_depth = 5, .all_ops = false});
  const std::vector<AugmentSpace> base = augmix_space(10, {40, 60}, false);
  for (int i = 0; i < 50; ++i) {
    const AugMix::Params q = fixed.get_params({40, 60}, gen);
    ASSERT_EQ(q.chains.size(), 2u);
    for (const auto& chain : q.chains) {
      ASSERT_EQ(chain.size(), 5u);
      for (const AugmentStep& s : chain) {
        EXPECT_NE(std::find_if(base.begin(), base.end(),
                               [&](const AugmentSpace& a) { return a.op == s.op; }),
                  base.end())
            << augment_op_name(s.op);  // no colour op without all_ops
      }
    }
  }
}

// operator() mixes what get_params draws from the same generator state; the recipe's name
// "augmix" builds it with the severity given.
TEST(AugMix, AppliesItsDrawnParams) {
  const Image img = noise_image(24, 30, 3);
  for (Interpolation mode : {Interpolation::Nearest, Interpolation::Bilinear}) {
    const AugMix augmix({.severity = 6, .interpolation = mode});
    for (uint64_t seed = 0; seed < 20; ++seed) {
      Generator a(seed), b(seed), c(seed);
      const Image out = augmix(img, a);
      EXPECT_EQ(out.data, AugMix::mix(img, augmix.get_params({24, 30}, b), mode).data);
      EXPECT_EQ(auto_augment_transform("augmix", 9, mode, 6)(img, c).data, out.data);
    }
  }
  EXPECT_EQ(auto_augment_str("augmix", 9, Interpolation::Bilinear, 3),
            "AugMix(severity=3, interpolation=bilinear)");
  EXPECT_TRUE(is_auto_augment_policy("augmix"));
}

// One chain of weight 1 and an original weight of 0 is that chain's image: the mixing adds
// nothing of its own.
TEST(AugMix, AWholeWeightGivesTheChainsImage) {
  const Image img = noise_image(20, 26, 9);
  const std::vector<AugmentStep> chain = {{AugmentOp::ShearX, 0.2}, {AugmentOp::Contrast, 0.4}};
  const AugMix::Params p{.original_weight = 0, .chain_weights = {1.0f}, .chains = {chain}};
  EXPECT_EQ(AugMix::mix(img, p, Interpolation::Bilinear).data,
            apply_augment_steps(img, chain, Interpolation::Bilinear, ImageBackend::Tensor).data);
  const AugMix::Params none{.original_weight = 1, .chain_weights = {}, .chains = {}};
  EXPECT_EQ(AugMix::mix(img, none, Interpolation::Nearest).data, img.data);
}

TEST(AugMix, BadSettingsAreClearErrors) {
  const auto error = [](const auto& f) { return testing::error_of(f); };
  EXPECT_NE(error([] { AugMix({.severity = 0}); }).find("severity must be in [1, 10], got 0"),
            std::string::npos);
  EXPECT_NE(error([] { AugMix({.severity = 11}); }).find("got 11"), std::string::npos);
  EXPECT_NE(error([] { AugMix({.mixture_width = 0}); }).find("mixture_width must be >= 1"),
            std::string::npos);
  EXPECT_NE(error([] { AugMix({.alpha = 0}); }).find("alpha must be positive"), std::string::npos);
  EXPECT_NE(error([] {
              AugMix({.interpolation = Interpolation::Bicubic});
            }).find("interpolation must be nearest or bilinear"),
            std::string::npos);
  EXPECT_NE(error([] {
              auto_augment_transform("augmix", 9, Interpolation::Bicubic);
            }).find("nearest or bilinear"),
            std::string::npos);
  EXPECT_NE(error([] {
              apply_augment_op(noise_image(4, 4, 1), AugmentOp::Rotate, 3, Interpolation::Bicubic,
                               ImageBackend::Tensor);
            }).find("bicubic interpolation is not available on torchvision's tensor path"),
            std::string::npos);
  const Image img = noise_image(4, 4, 1);
  EXPECT_NE(error([&] {
              AugMix::mix(img, {.original_weight = 1, .chain_weights = {0.5f}, .chains = {}},
                          Interpolation::Nearest);
            }).find("1 chain weights for 0 chains"),
            std::string::npos);
  EXPECT_NE(error([&] {
              AugMix::mix(img, {.original_weight = NAN, .chain_weights = {}, .chains = {}},
                          Interpolation::Nearest);
            }).find("weights must be finite"),
            std::string::npos);
}

// Dirichlet(alpha): each component's mean is alpha_i / Σ alpha, components sum to 1.
TEST(Dirichlet, ComponentMeansAreTheNormalisedConcentrations) {
  Generator gen(3);
  const std::vector<double> alpha = {0.5, 1.0, 2.5};
  std::vector<double> mean(3, 0.0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const std::vector<double> x = draw_dirichlet(gen, alpha);
    ASSERT_EQ(x.size(), 3u);
    EXPECT_NEAR(x[0] + x[1] + x[2], 1.0, 1e-12);
    for (size_t k = 0; k < 3; ++k) mean[k] += x[k] / n;
  }
  // Var(x_k) = a_k (A - a_k) / (A² (A + 1)), A = Σ alpha = 4: at most 4·4/(16·5) = 0.2.
  for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(mean[k], alpha[k] / 4.0, 5 * std::sqrt(0.2 / n));
  EXPECT_THROW(draw_dirichlet(gen, {}), Error);
  EXPECT_THROW(draw_dirichlet(gen, {1.0, 0.0}), Error);
  EXPECT_THROW(draw_dirichlet(gen, {1.0, INFINITY}), Error);
}

}  // namespace
}  // namespace afinar::data
