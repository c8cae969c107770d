// conv2d on the CPU (f32, the Default algorithm: im2col + OpenBLAS) at the 3x3 layer shapes of
// ResNet18, batch 16, stride 1, padding 1, no bias (as torchvision's convolutions):
//   Conv2dFwdBwd/c64_56     C = K = 64 at 56x56       layer1
//   Conv2dFwdBwd/c128_28    C = K = 128 at 28x28      layer2
//   Conv2dFwdBwd/c256_14    C = K = 256 at 14x14      layer3
//   Conv2dFwdBwd/c512_7     C = K = 512 at 7x7        layer4
// Conv2dFwdBwd runs the three ops a trained layer runs (forward, dL/dx, dL/dw; the raw ops, so
// the time is the ops' own); Conv2dFwd, Conv2dBwdInput and Conv2dBwdWeight time each alone.
// Conv2dFwdAddRelu times relu(conv2d(x, w) + r) as one op (conv2d_add_relu, the epilogue in the
// GEMM's tiles), Conv2dFwdAddReluUnfused as afinar's three ops; PyTorch's twin of the former runs
// its three ops (F.conv2d, add, relu_: PyTorch has no fused float32 CPU kernel for it).
// GFLOP/s counts 2·N·K·C·R·S·Ho·Wo per op (3 ops for FwdBwd). PyTorch on the same shapes:
// bench/torch/conv2d.py; side by side: tools/bench/compare.py --filter Conv2d.
//   build/bench/afinar_bench --benchmark_filter=Conv2d
#include <benchmark/benchmark.h>

#include <string>

#include "afinar/ops/activation.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/elementwise.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

constexpr int64_t kBatch = 16;

struct Layer {
  const char* name;
  int64_t channels, size;
};

enum class Pass { Fwd, BwdInput, BwdWeight, FwdBwd, FwdAddRelu, FwdAddReluUnfused };

void conv2d_bench(benchmark::State& state, Layer layer, Pass pass) {
  const int64_t C = layer.channels, H = layer.size;
  Generator gen(1);
  const Tensor x = randn({kBatch, C, H, H}, DType::F32, gen);
  const Tensor w = randn({C, C, 3, 3}, DType::F32, gen);
  const Tensor gy = randn({kBatch, C, H, H}, DType::F32, gen);
  const Conv2dOptions opt{.padding = 1};
  const Tensor r = randn({kBatch, C, H, H}, DType::F32, gen);  // the residual of an epilogue
  const bool fwd = pass == Pass::Fwd || pass == Pass::FwdBwd;
  const bool bwd_input = pass == Pass::BwdInput || pass == Pass::FwdBwd;
  const bool bwd_weight = pass == Pass::BwdWeight || pass == Pass::FwdBwd;
  const bool add_relu = pass == Pass::FwdAddRelu || pass == Pass::FwdAddReluUnfused;
  for (auto _ : state) {
    if (pass == Pass::FwdAddRelu)
      benchmark::DoNotOptimize(
          ops::conv2d_forward(x, w, Tensor(), opt, {.residual = r, .relu = true}).raw_data());
    if (pass == Pass::FwdAddReluUnfused)
      benchmark::DoNotOptimize(
          ops::relu_forward(ops::add(ops::conv2d_forward(x, w, Tensor(), opt), r, 1.0)).raw_data());
    if (fwd) benchmark::DoNotOptimize(ops::conv2d_forward(x, w, Tensor(), opt).raw_data());
    if (bwd_input)
      benchmark::DoNotOptimize(ops::conv2d_backward_input(gy, w, x.shape(), opt).raw_data());
    if (bwd_weight)
      benchmark::DoNotOptimize(ops::conv2d_backward_weight(gy, x, w.shape(), opt).raw_data());
  }
  const double flops_per_op = 2.0 * double(kBatch * C * C * 9 * H * H);
  const int ops = int(fwd) + int(bwd_input) + int(bwd_weight) + int(add_relu);
  state.counters["GFLOP/s"] =
      benchmark::Counter(ops * flops_per_op * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  const Layer layers[] = {
      {"c64_56", 64, 56}, {"c128_28", 128, 28}, {"c256_14", 256, 14}, {"c512_7", 512, 7}};
  const std::pair<const char*, Pass> passes[] = {
      {"Conv2dFwdBwd/", Pass::FwdBwd},
      {"Conv2dFwd/", Pass::Fwd},
      {"Conv2dBwdInput/", Pass::BwdInput},
      {"Conv2dBwdWeight/", Pass::BwdWeight},
      {"Conv2dFwdAddRelu/", Pass::FwdAddRelu},
      {"Conv2dFwdAddReluUnfused/", Pass::FwdAddReluUnfused}};
  for (const auto& [prefix, pass] : passes) {
    for (const Layer& layer : layers) {
      benchmark::RegisterBenchmark((std::string(prefix) + layer.name).c_str(), conv2d_bench, layer,
                                   pass)
          ->UseRealTime()  // the work runs on OpenMP threads: wall time is the cost
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

// ---- CUDA ------------------------------------------------------------------------------------
// conv2d on the GPU, f32, batch 64, 3x3, stride 1, padding 1, no bias, with PyTorch's defaults:
// the Default (cuDNN) algorithm, set_cudnn_benchmark(true) (the measured choice, as
// torch.backends.cudnn.benchmark = True) and TF32 allowed (torch.backends.cudnn.allow_tf32).
//   Conv2dCudaFwdBwd/c64_56 ... c512_7          ResNet18's 3x3 layers (C = K)
//   Conv2dCudaFwdBwd/vgg_c64_224 ... c512_14    VGG16's 3x3 layers (C = K; the first of each
//                                                stage, 3->64 and C->2C, left out)
//   Conv2dCudaFwd/, Conv2dCudaBwdInput/, Conv2dCudaBwdWeight/   each direction alone
//   Conv2dCudaAlgo/<algo>/c256_14               every CUDA algorithm on one shape (fwd + bwd)
// TFLOP/s counts 2·N·K·C·R·S·Ho·Wo per direction. Timing: bench::time_cuda (warm-up, which also
// runs cuDNN's measurement, then the median of synchronised batches). PyTorch on the same
// shapes and names: bench/torch/conv2d_cuda.py; side by side: tools/gpu/compare_cuda.py.
//   build/bench/afinar_bench --benchmark_filter=Conv2dCuda

const Device kGpu{DeviceType::CUDA, 0};
constexpr int64_t kCudaBatch = 64;

// Sets the cuDNN switches for a benchmark and restores them after.
class CudnnBenchSettings {
 public:
  CudnnBenchSettings() : tf32_(tf32_conv_allowed()), benchmark_(cudnn_benchmark()) {
    allow_tf32_conv(true);
    set_cudnn_benchmark(true);
  }
  ~CudnnBenchSettings() {
    allow_tf32_conv(tf32_);
    set_cudnn_benchmark(benchmark_);
  }
  CudnnBenchSettings(const CudnnBenchSettings&) = delete;
  CudnnBenchSettings& operator=(const CudnnBenchSettings&) = delete;

 private:
  bool tf32_, benchmark_;
};

void conv2d_cuda_bench(benchmark::State& state, Layer layer, Pass pass, Conv2dAlgo algo) {
  if (!bench::gpu_available(state)) return;
  const CudnnBenchSettings settings;
  const int64_t C = layer.channels, H = layer.size;
  Generator gen(1);
  const Tensor x = randn({kCudaBatch, C, H, H}, DType::F32, kGpu, gen);
  const Tensor w = randn({C, C, 3, 3}, DType::F32, kGpu, gen);
  const Tensor gy = randn({kCudaBatch, C, H, H}, DType::F32, kGpu, gen);
  const Conv2dOptions opt{.padding = 1, .algo = algo};
  const bool fwd = pass == Pass::Fwd || pass == Pass::FwdBwd;
  const bool bwd_input = pass == Pass::BwdInput || pass == Pass::FwdBwd;
  const bool bwd_weight = pass == Pass::BwdWeight || pass == Pass::FwdBwd;
  auto step = [&] {
    if (fwd) ops::conv2d_forward(x, w, Tensor(), opt);
    if (bwd_input) ops::conv2d_backward_input(gy, w, x.shape(), opt);
    if (bwd_weight) ops::conv2d_backward_weight(gy, x, w.shape(), opt);
  };
  const int reps = algo == Conv2dAlgo::Direct ? 2 : 10;
  double seconds = 0;
  for (auto _ : state) {
    seconds = bench::time_cuda(step, reps);
    state.SetIterationTime(seconds);
  }
  const double flops_per_op = 2.0 * double(kCudaBatch * C * C * 9 * H * H);
  const int ops = int(fwd) + int(bwd_input) + int(bwd_weight);
  state.counters["TFLOP/s"] = ops * flops_per_op / seconds * 1e-12;
}

const bool registered_cuda = [] {
  const Layer layers[] = {
      {"c64_56", 64, 56},       {"c128_28", 128, 28},     {"c256_14", 256, 14},
      {"c512_7", 512, 7},       {"vgg_c64_224", 64, 224}, {"vgg_c128_112", 128, 112},
      {"vgg_c256_56", 256, 56}, {"vgg_c512_28", 512, 28}, {"vgg_c512_14", 512, 14}};
  const std::pair<const char*, Pass> passes[] = {{"Conv2dCudaFwdBwd/", Pass::FwdBwd},
                                                 {"Conv2dCudaFwd/", Pass::Fwd},
                                                 {"Conv2dCudaBwdInput/", Pass::BwdInput},
                                                 {"Conv2dCudaBwdWeight/", Pass::BwdWeight}};
  for (const auto& [prefix, pass] : passes) {
    for (const Layer& layer : layers) {
      benchmark::RegisterBenchmark((std::string(prefix) + layer.name).c_str(), conv2d_cuda_bench,
                                   layer, pass, Conv2dAlgo::Default)
          ->UseManualTime()
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (Conv2dAlgo algo : {Conv2dAlgo::Cudnn, Conv2dAlgo::Im2colGemm, Conv2dAlgo::Direct}) {
    benchmark::RegisterBenchmark(
        (std::string("Conv2dCudaAlgo/") + conv2d_algo_name(algo) + "/c256_14").c_str(),
        conv2d_cuda_bench, Layer{"c256_14", 256, 14}, Pass::FwdBwd, algo)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar
