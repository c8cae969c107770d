// VGG and ResNet against torchvision 0.14 (goldens from tools/goldens/models.py):
// - structure: every architecture's state_dict keys in order, their shapes, the parameter count
//   and, for one model per code path, print(model) character for character;
// - logits: both sides fill every state_dict tensor from the same exact formula (see
//   tools/goldens/models.py), run the committed input, and must agree within 1e-4 relative
//   (float32 through up to 50 layers) in eval mode; a train-mode case checks BatchNorm's batch
//   statistics, the running-statistic updates and the gradients of a backward pass;
// - torchvision's initialisation schemes (statistically), the registry, num_classes, surgery.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <sstream>

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/fuse.h"
#include "afinar/nn/init.h"
#include "afinar/nn/models.h"
#include "afinar/nn/resnet.h"
#include "afinar/nn/vgg.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/loss.h"
#include "afinar/ops/matmul.h"
#include "afinar/ops/reduce.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/errors.h"
#include "testing/fixtures.h"

namespace afinar::nn {
namespace {

// ---- the fill formula of tools/goldens/models.py --------------------------------------------

uint64_t fmix64(uint64_t x) {  // MurmurHash3's finaliser
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

double uniform01(uint64_t key_index, uint64_t i) {
  return double(fmix64((key_index << 40) + i) >> 11) * 0x1p-53;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The formula's tensor for state_dict entry `name` at position k (float64 math, then cast).
Tensor formula_tensor(const std::string& name, uint64_t k, const Shape& shape, DType dtype) {
  const int64_t n = numel_of(shape);
  if (ends_with(name, "num_batches_tracked")) return full(shape, double(k), dtype);
  AFN_CHECK(dtype == DType::F32, "formula_tensor: ", name, " is not float32");
  std::vector<float> v(static_cast<size_t>(n));
  const double scale = shape.size() >= 2 ? std::sqrt(6.0 / double(n / shape[0])) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double u = uniform01(k, uint64_t(i));
    double value;
    if (ends_with(name, "running_var"))
      value = 0.5 + u;
    else if (ends_with(name, "running_mean"))
      value = 0.1 * (2 * u - 1);
    else if (shape.size() >= 2)
      value = (2 * u - 1) * scale;
    else if (ends_with(name, "weight"))
      value = 0.5 + 0.5 * u;
    else
      value = 0.1 * (2 * u - 1);
    v[size_t(i)] = float(value);
  }
  return from_vector<float>(v, shape);
}

// The model with every state_dict tensor from the formula, loaded through load_state_dict.
ModulePtr filled_model(const std::string& arch) {
  ModulePtr model;
  {
    init::SkipInitGuard skip;  // every value is overwritten below
    model = create_model(arch);
  }
  StateDict sd;
  uint64_t k = 0;
  for (const auto& [name, t] : model->state_dict())
    sd.insert(name, formula_tensor(name, k++, t.shape(), t.dtype()));
  model->load_state_dict(sd);
  return model;
}

testing::GoldenCase golden(const std::string& file, const std::string& name) {
  for (auto& c : testing::load_goldens(file))
    if (c.name == name) return c;
  AFN_FAIL("no case ", name, " in goldens/", file, ".h5");
}

std::string utf8(const Tensor& bytes) {
  const auto v = bytes.to_vector<uint8_t>();
  return std::string(v.begin(), v.end());
}

// Logits of a deep float32 network: rounding differences (summation orders of conv and GEMM)
// are relative to the size of the activations, not to each logit, so the bound is 1e-4 of the
// largest |logit| plus 1e-4 of each.
testing::Tolerance logits_tolerance(const Tensor& expected) {
  double max_abs = 0;
  for (float v : expected.to_vector<float>()) max_abs = std::max(max_abs, double(std::abs(v)));
  return {1e-4, 1e-4 * max_abs};
}

// ---- structure ----------------------------------------------------------------------------

TEST(Models, StateDictKeysShapesAndCountsEqualTorchvision) {
  ASSERT_EQ(model_names().size(), 18u);
  for (const auto& c : testing::load_goldens("models")) {
    SCOPED_TRACE(c.name);
    ModulePtr model;
    {
      init::SkipInitGuard skip;  // structure only
      model = create_model(c.name);
    }
    std::vector<std::string> keys;
    std::istringstream lines(utf8(c.tensor("keys")));
    for (std::string line; std::getline(lines, line);) keys.push_back(line);
    const auto dims = c.tensor("shapes").to_vector<int64_t>();
    const auto ndims = c.tensor("ndims").to_vector<int64_t>();
    const StateDict sd = model->state_dict();
    ASSERT_EQ(sd.keys(), keys);
    size_t at = 0, i = 0;
    for (const auto& [name, t] : sd) {
      const Shape expected(dims.begin() + int64_t(at), dims.begin() + int64_t(at) + ndims[i++]);
      at += size_t(expected.size());
      EXPECT_EQ(t.shape(), expected) << name;
    }
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    EXPECT_EQ(params, c.attr_int("num_params"));
    if (c.has("repr")) {
      EXPECT_EQ(model->repr(), utf8(c.tensor("repr")));
    }
  }
}

TEST(Models, ParameterCountsOfTheIssue) {
  init::SkipInitGuard skip;
  auto count = [](const ModulePtr& m) {
    int64_t n = 0;
    for (const auto& p : m->parameters()) n += p.numel();
    return n;
  };
  EXPECT_EQ(count(vgg16()), 138357544);
  EXPECT_EQ(count(resnet18()), 11689512);
  EXPECT_EQ(count(resnet50()), 25557032);
  EXPECT_EQ(count(resnext101_32x8d()), 88791336);  // torchvision's num_params
  EXPECT_EQ(count(wide_resnet50_2()), 68883240);
}

TEST(Models, RegistryNamesAndErrors) {
  EXPECT_EQ(model_names().front(), "vgg11");
  EXPECT_EQ(model_names().back(), "wide_resnet101_2");
  EXPECT_TRUE(is_model_name("vgg16_bn"));
  EXPECT_FALSE(is_model_name("alexnet"));
  try {
    create_model("resnet19");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown architecture 'resnet19'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("vgg11, vgg11_bn, vgg13"), std::string::npos) << msg;
    EXPECT_NE(msg.find("resnet152"), std::string::npos) << msg;
  }
  EXPECT_THROW(create_model("resnet18", 0), Error);
  EXPECT_EQ(create_model("resnet34")->type_name(), "ResNet");
}

TEST(Models, AnyNumClasses) {
  init::SkipInitGuard skip;
  auto r = resnet50(10);
  EXPECT_EQ(r->state_dict().at("fc.weight").shape(), (Shape{10, 2048}));
  auto v = vgg11_bn(7);
  EXPECT_EQ(v->state_dict().at("classifier.6.bias").shape(), (Shape{7}));
  v->eval();
  NoGradGuard no_grad;
  EXPECT_EQ((*v)(zeros({2, 3, 32, 32})).shape(), (Shape{2, 7}));  // 32x32: the minimum for VGG
  EXPECT_EQ((*resnet18(3))(zeros({1, 3, 40, 56})).shape(), (Shape{1, 3}));
}

// ---- logits parity --------------------------------------------------------------------------

// `fmt`: the model's weights and the input in that memory format (channels-last runs every
// convolution, batch norm and pool in NHWC; the numbers are the same up to summation order).
// `fold`: the batch norms folded into the convolutions first (nn::fuse_conv_bn; the same function
// with other roundings: the folded weights and the dropped batch-norm pass).
void expect_eval_logits_match(const std::string& arch, MemoryFormat fmt = MemoryFormat::Contiguous,
                              bool fold = false) {
  const Tensor x = golden("models_logits", "input").tensor("x").to(fmt);
  const Tensor expected = golden("models_logits", arch).tensor("logits");
  ModulePtr model = filled_model(arch);
  model->to(fmt);
  model->eval();
  if (fold) {
    EXPECT_GT(fuse_conv_bn(*model), 0u);
  }
  NoGradGuard no_grad;
  const Tensor logits = (*model)(x);
  EXPECT_ALLCLOSE(logits, expected, logits_tolerance(expected)) << arch;
}

TEST(ResNet, EvalLogitsMatchTorchvisionResNet18) {
  expect_eval_logits_match("resnet18");
}

TEST(ResNet, EvalLogitsMatchTorchvisionResNet50) {
  expect_eval_logits_match("resnet50");
}

TEST(ResNet, EvalLogitsMatchTorchvisionResNeXt50) {
  expect_eval_logits_match("resnext50_32x4d");
}

TEST(ResNet, EvalLogitsMatchTorchvisionWideResNet50) {
  expect_eval_logits_match("wide_resnet50_2");
}

TEST(Vgg, EvalLogitsMatchTorchvisionVgg16) {
  expect_eval_logits_match("vgg16");
}

TEST(Vgg, EvalLogitsMatchTorchvisionVgg11Bn) {
  expect_eval_logits_match("vgg11_bn");
}

TEST(ResNet, ChannelsLastEvalLogitsMatchTorchvision) {
  expect_eval_logits_match("resnet18", MemoryFormat::ChannelsLast);
  expect_eval_logits_match("resnet50", MemoryFormat::ChannelsLast);
  expect_eval_logits_match("resnext50_32x4d", MemoryFormat::ChannelsLast);
}

TEST(Vgg, ChannelsLastEvalLogitsMatchTorchvision) {
  expect_eval_logits_match("vgg11_bn", MemoryFormat::ChannelsLast);
}

TEST(ResNet, FoldedBatchNormEvalLogitsMatchTorchvision) {
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    expect_eval_logits_match("resnet18", fmt, /*fold=*/true);
    expect_eval_logits_match("resnet50", fmt, /*fold=*/true);
  }
  expect_eval_logits_match("resnext50_32x4d", MemoryFormat::Contiguous, /*fold=*/true);
}

TEST(Vgg, FoldedBatchNormEvalLogitsMatchTorchvision) {
  expect_eval_logits_match("vgg11_bn", MemoryFormat::Contiguous, /*fold=*/true);
}

// The same model on the GPU: with TF32 off it must meet the CPU bound; with TF32 (PyTorch's
// default for convolutions) each product keeps a 10-bit mantissa (relative error ~5e-4 per
// layer, growing like the square root of the depth), so 1e-2 of the largest logit.
TEST(ResNetCuda, EvalLogitsMatchTorchvisionResNet18) {
  AFN_REQUIRE_CUDA();
  const Tensor x = golden("models_logits", "input").tensor("x").to(testing::kCuda0);
  const Tensor expected = golden("models_logits", "resnet18").tensor("logits");
  ModulePtr model = filled_model("resnet18");
  model->to(testing::kCuda0);
  model->eval();
  NoGradGuard no_grad;
  const bool tf32_conv = tf32_conv_allowed(), tf32_matmul = tf32_matmul_allowed();
  allow_tf32_conv(false);
  allow_tf32_matmul(false);
  EXPECT_ALLCLOSE((*model)(x).cpu(), expected, logits_tolerance(expected)) << "fp32";
  allow_tf32_conv(true);
  allow_tf32_matmul(true);
  testing::Tolerance tf32 = logits_tolerance(expected);
  tf32 = {1e-2, tf32.atol * 100};
  EXPECT_ALLCLOSE((*model)(x).cpu(), expected, tf32) << "tf32";
  allow_tf32_conv(tf32_conv);
  allow_tf32_matmul(tf32_matmul);
}

// Folded on the GPU: conv2d_add_relu's epilogue after cuDNN, NCHW and channels-last, TF32 off.
TEST(ResNetCuda, FoldedBatchNormEvalLogitsMatchTorchvision) {
  AFN_REQUIRE_CUDA();
  const Tensor expected = golden("models_logits", "resnet18").tensor("logits");
  const bool tf32_conv = tf32_conv_allowed(), tf32_matmul = tf32_matmul_allowed();
  allow_tf32_conv(false);
  allow_tf32_matmul(false);
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    const Tensor x = golden("models_logits", "input").tensor("x").to(testing::kCuda0).to(fmt);
    ModulePtr model = filled_model("resnet18");
    model->to(testing::kCuda0);
    model->to(fmt);
    model->eval();
    EXPECT_EQ(fuse_conv_bn(*model), 20u);
    NoGradGuard no_grad;
    EXPECT_ALLCLOSE((*model)(x).cpu(), expected, logits_tolerance(expected));
  }
  allow_tf32_conv(tf32_conv);
  allow_tf32_matmul(tf32_matmul);
}

// Train mode (batch statistics), forward and backward. Channels-last must also make no layout
// conversion between the converted input and the parameters' gradients: every op takes and
// returns NHWC, and each gradient comes out in its parameter's format.
void expect_train_mode_matches(MemoryFormat fmt) {
  const Tensor x = golden("models_logits", "input").tensor("x").to(fmt);
  const auto c = golden("models_logits", "resnet18_train");
  ModulePtr model = filled_model("resnet18");
  model->to(fmt);
  model->train();
  const int64_t copies = contiguous_copy_count();
  const Tensor logits = (*model)(x);
  const Tensor expected = c.tensor("logits");
  EXPECT_ALLCLOSE(logits, expected, logits_tolerance(expected));

  // Running statistics after the forward: (1 - 0.1)·formula + 0.1·batch statistic (unbiased
  // variance) in float32; num_batches_tracked exactly its formula value + 1.
  for (const auto& [name, t] : model->named_buffers()) {
    const Tensor want = c.tensor(name);
    if (t.dtype() == DType::I64)
      EXPECT_EQ(t.item<int64_t>(), want.item<int64_t>()) << name;
    else
      EXPECT_ALLCLOSE(t, want, testing::tolerance_for(DType::F32, 64, 16)) << name;
  }

  // Gradients of sum(logits · grad_logits): sums over the batch and all positions, so the bound
  // is relative to each gradient's largest magnitude.
  sum(mul(logits, c.tensor("grad_logits"))).backward();
  EXPECT_EQ(contiguous_copy_count(), copies) << "layout conversions in the step";
  for (const char* name : {"conv1.weight", "bn1.weight", "bn1.bias", "layer2.0.downsample.1.weight",
                           "layer4.1.bn2.weight", "layer4.1.bn2.bias", "fc.bias"}) {
    const Tensor want = c.tensor(std::string("grad_") + name);
    Tensor got;
    for (const auto& [n, p] : model->named_parameters())
      if (n == name) got = p.grad();
    ASSERT_TRUE(got.defined()) << name;
    EXPECT_ALLCLOSE(got, want, logits_tolerance(want)) << name;
  }
  for (const auto& [name, p] : model->named_parameters())
    EXPECT_EQ(suggest_memory_format(p.grad()), suggest_memory_format(p)) << name;
}

TEST(ResNet, TrainModeMatchesTorchvision) {
  expect_train_mode_matches(MemoryFormat::Contiguous);
}

TEST(ResNet, ChannelsLastTrainModeMatchesTorchvision) {
  expect_train_mode_matches(MemoryFormat::ChannelsLast);
}

// Automatic mixed precision against torch.autocast("cpu", dtype=torch.bfloat16) on the same model
// and input in train mode: bf16 logits, a float32 loss, float32 gradients on the float32
// parameters, the running statistics.
// `fmt`: model and input in that memory format (PERF.md's bf16 + channels-last on the GPU).
void expect_autocast_matches_torch(const Device& device,
                                   MemoryFormat fmt = MemoryFormat::Contiguous) {
  const Tensor x = golden("models_logits", "input").tensor("x").to(device).to(fmt);
  const auto c = golden("models_logits", "resnet18_train_bf16");
  const auto f32 = golden("models_logits", "resnet18_train");
  ModulePtr model = filled_model("resnet18");
  model->to(device);
  model->to(fmt);
  model->train();
  const int64_t copies = contiguous_copy_count();
  Tensor logits, loss;
  {
    AutocastGuard amp(device.type);
    logits = (*model)(x);
    loss = cross_entropy(logits, c.tensor("target").to(device));
  }
  ASSERT_EQ(logits.dtype(), DType::BF16);
  ASSERT_EQ(loss.dtype(), DType::F32);
  loss.backward();
  if (fmt == MemoryFormat::ChannelsLast) {
    EXPECT_EQ(contiguous_copy_count(), copies) << "layout conversions in the bf16 step";
  }
  // Each bf16 rounding (2^-8 relative) along the path differs between two correct
  // implementations wherever their float sums differ in the last bits: about 40 roundings
  // (a conv and a batch norm output per layer) as a random walk, relative to the largest value.
  const double tol = std::ldexp(1.0, -8) * std::sqrt(40.0);
  const Tensor got = logits.to(DType::F32).cpu();
  const double err_bf16 = testing::max_relative_error(got, c.tensor("logits"));
  const double err_f32 = testing::max_relative_error(got, f32.tensor("logits"));
  EXPECT_LT(err_bf16, tol);
  // And it is torch's bf16 computation that is matched, not its float32 one (here 1.4% and 3.0%).
  EXPECT_LT(err_bf16, err_f32 / 1.5);
  EXPECT_NEAR(loss.item<float>(), c.tensor("loss").item<float>(),
              tol * c.tensor("loss").item<float>());
  for (const auto& [name, b] : model->named_buffers()) {
    if (b.dtype() == DType::F32) {
      EXPECT_LT(testing::max_relative_error(b.cpu(), c.tensor(name)), tol) << name;
    }
  }
  // Gradients: float32 on float32 parameters. Through 20 bf16 layers they are noise-dominated:
  // torch's own bf16 gradients here differ from float64 ones by 16-45% of their largest value
  // (fc.bias, one layer from the loss, by 0.3%), so only gross errors can be told apart.
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_EQ(p.dtype(), DType::F32) << name;
    if (!c.has("grad_" + name)) continue;
    ASSERT_EQ(p.grad().dtype(), DType::F32) << name;
    const double err = testing::max_relative_error(p.grad().cpu(), c.tensor("grad_" + name));
    EXPECT_LT(err, name == "fc.bias" ? tol : 0.5) << name;
  }
}

TEST(ResNet, AutocastBf16MatchesTorch) {
  expect_autocast_matches_torch(kCPU);
}

TEST(ResNet, ChannelsLastAutocastBf16MatchesTorch) {
  expect_autocast_matches_torch(kCPU, MemoryFormat::ChannelsLast);
}

// On the GPU, cuDNN's and cuBLAS's own bf16 kernels against the same torch run.
TEST(ResNetCuda, AutocastBf16MatchesTorch) {
  AFN_REQUIRE_CUDA();
  expect_autocast_matches_torch(testing::kCuda0);
}

TEST(ResNetCuda, ChannelsLastAutocastBf16MatchesTorch) {
  AFN_REQUIRE_CUDA();
  expect_autocast_matches_torch(testing::kCuda0, MemoryFormat::ChannelsLast);
}

// ResNet's blocks run bn -> (add) -> relu as one fused op unless a forward hook watches the
// modules; both ways give the same logits, gradients and running statistics, bit for bit.
// One forward of `module` on x, with or without a forward hook (which makes the fused modules run
// their children one by one), then the backward of sum(y ⊙ g): the output, every parameter's
// gradient, every buffer, and how many relu and add kernels the forward ran.
struct WatchedRun {
  Tensor y;
  std::vector<Tensor> grads, buffers;
  int64_t relu_calls = 0, add_calls = 0;
};
WatchedRun run_watched(Module& module, const Tensor& x, const Tensor& g, bool hooked) {
  WatchedRun r;
  reset_op_call_counts();
  {
    std::optional<ScopedForwardHook> watch;
    if (hooked) watch.emplace([](Module&, const Tensor&, const Tensor&) {});
    r.y = module(x);
  }
  r.relu_calls = op_call_count("relu_forward");
  r.add_calls = op_call_count("add");
  sum(mul(r.y, g)).backward();
  for (const auto& [name, p] : module.named_parameters()) r.grads.push_back(p.grad());
  for (const auto& [name, b] : module.named_buffers()) r.buffers.push_back(b);
  return r;
}

// The fused run and the module-by-module run gave the same bits everywhere.
void expect_same_bits(const WatchedRun& fused, const WatchedRun& modules) {
  testing::expect_identical(fused.y, modules.y, "output");
  ASSERT_EQ(fused.grads.size(), modules.grads.size());
  for (size_t i = 0; i < fused.grads.size(); ++i)
    testing::expect_identical(fused.grads[i], modules.grads[i], "gradient " + std::to_string(i));
  ASSERT_EQ(fused.buffers.size(), modules.buffers.size());
  for (size_t i = 0; i < fused.buffers.size(); ++i)
    testing::expect_identical(fused.buffers[i], modules.buffers[i], "buffer " + std::to_string(i));
}

TEST(ResNet, FusedBlocksEqualTheModulesOneByOne) {
  for (const char* arch : {"resnet18", "resnet50"}) {
    SCOPED_TRACE(arch);
    Generator gen(7);
    const Tensor x = randn({2, 3, 32, 32}, DType::F32, gen), g = randn({2, 1000}, DType::F32, gen);
    auto run = [&](bool hooked) {
      ModulePtr model = filled_model(arch);
      model->train();
      return run_watched(*model, x, g, hooked);
    };
    const WatchedRun fused = run(false), modules = run(true);
    EXPECT_EQ(fused.relu_calls, 0);
    EXPECT_EQ(fused.add_calls, 0);
    EXPECT_GT(modules.relu_calls, 0);
    expect_same_bits(fused, modules);
  }
}

// VGG's features (a Sequential) run conv -> relu and conv -> bn -> relu as fused ops, in training
// and eval mode and with the batch norms folded: the same bits as the modules one by one, and no
// relu of its own. (vgg11's features alone: the classifier has nothing to fuse.)
TEST(Vgg, FusedFeaturesEqualTheModulesOneByOne) {
  for (bool batch_norm : {false, true})
    for (int mode = 0; mode < 3; ++mode) {  // train, eval, eval with folded batch norms
      if (mode == 2 && !batch_norm) continue;
      SCOPED_TRACE(::testing::Message() << (batch_norm ? "vgg11_bn" : "vgg11") << " mode " << mode);
      Generator gen(8);
      const Tensor x = randn({2, 3, 32, 32}, DType::F32, gen);
      const Tensor g = randn({2, 512, 1, 1}, DType::F32, gen);
      auto run = [&](bool hooked) {
        std::shared_ptr<Sequential> features = make_vgg_features(VggConfig::A, batch_norm);
        StateDict sd;
        uint64_t k = 0;
        for (const auto& [name, t] : features->state_dict())
          sd.insert(name, formula_tensor(name, k++, t.shape(), t.dtype()));
        features->load_state_dict(sd);
        features->train(mode == 0);
        if (mode == 2) fuse_conv_bn(*features);
        return run_watched(*features, x, g, hooked);
      };
      const WatchedRun fused = run(false), modules = run(true);
      EXPECT_EQ(fused.relu_calls, 0);
      EXPECT_EQ(modules.relu_calls, 8);
      expect_same_bits(fused, modules);
    }
}

// ---- initialisation -------------------------------------------------------------------------

// Sample standard deviation of a tensor's first (at most) 2^20 values: enough for a 0.7% bound
// and no 800 MB copy of VGG's 102M-element first linear layer.
double sample_std(const Tensor& t) {
  const Tensor flat = t.flatten();
  const auto v = flat.slice(0, 0, std::min<int64_t>(flat.numel(), 1 << 20)).to_vector<double>();
  double mean = 0, ss = 0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / double(v.size() - 1));
}

// N(0, s²) sample std: relative standard error ≈ 1/√(2n); allow 5 of them.
void expect_std(const Tensor& t, double s, const std::string& what) {
  const double n = double(std::min<int64_t>(t.numel(), 1 << 20));
  EXPECT_NEAR(sample_std(t), s, 5 * s / std::sqrt(2.0 * n)) << what;
}

TEST(ResNet, InitIsTorchvisions) {
  auto model = resnet18();
  for (const auto& [name, m] : model->named_modules()) {
    if (auto conv = std::dynamic_pointer_cast<Conv2d>(m)) {
      const Shape& s = conv->weight().shape();  // kaiming_normal_ fan_out, relu
      expect_std(conv->weight(), std::sqrt(2.0 / double(s[0] * s[2] * s[3])), name);
    } else if (auto bn = std::dynamic_pointer_cast<BatchNorm2d>(m)) {
      EXPECT_EQ(bn->weight().to_vector<float>(), std::vector<float>(size_t(bn->num_features()), 1));
      EXPECT_EQ(bn->bias().to_vector<float>(), std::vector<float>(size_t(bn->num_features()), 0));
    }
  }
  // fc keeps Linear's default: U(±1/√512), std 1/√(3·512).
  expect_std(model->get_submodule_as<Linear>("fc")->weight(), 1 / std::sqrt(3.0 * 512), "fc");
}

TEST(Vgg, InitIsTorchvisions) {
  auto model = vgg11_bn(100);
  for (const auto& [name, m] : model->named_modules()) {
    if (auto conv = std::dynamic_pointer_cast<Conv2d>(m)) {
      const Shape& s = conv->weight().shape();
      expect_std(conv->weight(), std::sqrt(2.0 / double(s[0] * s[2] * s[3])), name);
      EXPECT_EQ(conv->bias().to_vector<float>(), std::vector<float>(size_t(s[0]), 0)) << name;
    } else if (auto fc = std::dynamic_pointer_cast<Linear>(m)) {
      expect_std(fc->weight(), 0.01, name);
      EXPECT_EQ(fc->bias().to_vector<float>(), std::vector<float>(size_t(fc->out_features()), 0));
    }
  }
}

// ---- surgery --------------------------------------------------------------------------------

TEST(ResNet, ReplaceFcThenForward) {
  auto model = resnet18();
  const int64_t in = model->get_submodule_as<Linear>("fc")->in_features();  // model.fc.in_features
  model->replace_module(
      "fc", make_sequential(std::make_shared<Dropout>(0.5), std::make_shared<Linear>(in, 512),
                            std::make_shared<ReLU>(), std::make_shared<Linear>(512, 4)));
  EXPECT_EQ((*model)(randn({2, 3, 64, 64})).shape(), (Shape{2, 4}));
  EXPECT_TRUE(model->state_dict().contains("fc.3.weight"));
}

TEST(Vgg, ReplaceClassifierAndAvgpoolThenForward) {
  init::SkipInitGuard skip;
  auto model = vgg16();
  model->replace_module("classifier.6", std::make_shared<Linear>(4096, 3));
  model->eval();
  NoGradGuard no_grad;
  EXPECT_EQ((*model)(randn({2, 3, 32, 32})).shape(), (Shape{2, 3}));
  // A global-pool head: avgpool to 1x1, then a 512-input classifier.
  model->replace_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1));
  model->replace_module("classifier", make_sequential(std::make_shared<Linear>(512, 5)));
  EXPECT_EQ((*model)(randn({2, 3, 64, 48})).shape(), (Shape{2, 5}));
  EXPECT_EQ(model->state_dict().at("classifier.0.weight").shape(), (Shape{5, 512}));
}

TEST(ResNet, BottleneckStridesOnItsThreeByThree) {
  init::SkipInitGuard skip;
  auto model = resnet50();
  EXPECT_EQ(model->get_submodule_as<Conv2d>("layer2.0.conv1")->options().stride, IntPair(1));
  EXPECT_EQ(model->get_submodule_as<Conv2d>("layer2.0.conv2")->options().stride, IntPair(2));
  EXPECT_EQ(model->get_submodule_as<Conv2d>("layer2.0.downsample.0")->options().stride, IntPair(2));
  model->eval();
  NoGradGuard no_grad;
  auto layer2 = model->get_submodule("layer2");
  EXPECT_EQ((*layer2)(zeros({1, 256, 16, 16})).shape(), (Shape{1, 512, 8, 8}));
}

// ResNeXt's 3×3 convolutions are grouped, Wide ResNet's are twice as wide; the 1×1s around them
// and the block outputs keep ResNet's widths (torchvision's Bottleneck width formula).
TEST(ResNet, ResNeXtAndWideBottlenecks) {
  init::SkipInitGuard skip;
  const auto conv = [](const ModulePtr& m, const std::string& name) {
    return m->get_submodule_as<Conv2d>(name);
  };
  const ModulePtr x50 = resnext50_32x4d(), x101 = resnext101_64x4d(), w50 = wide_resnet50_2();
  EXPECT_EQ(conv(x50, "layer1.0.conv2")->options().groups, 32);
  EXPECT_EQ(conv(x50, "layer1.0.conv2")->weight().shape(), (Shape{128, 4, 3, 3}));
  EXPECT_EQ(conv(x50, "layer4.2.conv2")->weight().shape(), (Shape{1024, 32, 3, 3}));
  EXPECT_EQ(conv(x101, "layer3.22.conv2")->weight().shape(), (Shape{1024, 16, 3, 3}));
  EXPECT_EQ(conv(x101, "layer3.22.conv2")->options().groups, 64);
  EXPECT_EQ(conv(w50, "layer2.0.conv2")->weight().shape(), (Shape{256, 256, 3, 3}));
  EXPECT_EQ(conv(w50, "layer2.0.conv2")->options().groups, 1);
  EXPECT_EQ(conv(w50, "layer2.0.conv3")->weight().shape(), (Shape{512, 256, 1, 1}));
  // torchvision's BasicBlock takes no groups or width (it raises a ValueError).
  EXPECT_NE(testing::error_of([] {
              ResNet(ResNetBlock::Basic, {2, 2, 2, 2}, 10, 32, 4);
            }).find("BasicBlock only supports groups=1 and width_per_group=64"),
            std::string::npos);
  EXPECT_THROW(ResNet(ResNetBlock::Bottleneck, {1, 1, 1, 1}, 10, 0, 4), Error);
  EXPECT_THROW(ResNet(ResNetBlock::Bottleneck, {1, 1, 1, 1}, 10, 1, 0), Error);
}

}  // namespace
}  // namespace afinar::nn
