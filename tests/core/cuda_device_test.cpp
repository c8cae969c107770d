// The CUDA device layer: transfers, strided copies, random fills, the caching allocator.
#include <gtest/gtest.h>

#include "afinar/core/tensor.h"
#include "afinar/ops/reduce.h"
#include "testing/compare.h"
#include "testing/cuda.h"

namespace afinar {
namespace {

using testing::kCuda0;

TEST(CudaDevice, TransferRoundTripsEveryDtype) {
  AFN_REQUIRE_CUDA();
  Generator gen(5);
  for (int64_t n : {1, 7, 1000003}) {
    Tensor x = randn({n}, DType::F64, gen);
    for (DType t : {DType::F32, DType::F64, DType::I64, DType::I32, DType::U8}) {
      Tensor host = x.to(t);
      Tensor back = host.cuda().cpu();
      EXPECT_EQ(back.dtype(), t);
      EXPECT_EQ(back.to_vector<double>(), host.to_vector<double>()) << dtype_name(t) << " n=" << n;
    }
  }
}

TEST(CudaDevice, HalfPrecisionConversionsRoundOnce) {
  AFN_REQUIRE_CUDA();
  Generator gen(6);
  Tensor x = randn({4097}, DType::F32, gen);
  Tensor g = x.cuda();
  // f32 -> bf16 -> f32 keeps 8 significant bits: relative error <= 2^-8; f16 keeps 11: 2^-11.
  EXPECT_ALLCLOSE(g.to(DType::BF16).to(DType::F32).cpu(), x, (testing::Tolerance{1.0 / 256, 0}));
  EXPECT_ALLCLOSE(g.to(DType::F16).to(DType::F32).cpu(), x, (testing::Tolerance{1.0 / 2048, 6e-8}));
}

TEST(CudaDevice, StridedCopyMatchesCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(7);
  Tensor x = randn({3, 5, 7, 9}, DType::F32, gen);
  Tensor gx = x.cuda();
  EXPECT_EQ(gx.permute({0, 2, 3, 1}).contiguous().cpu().to_vector<float>(),
            x.permute({0, 2, 3, 1}).contiguous().to_vector<float>());
  EXPECT_EQ(gx.contiguous(MemoryFormat::ChannelsLast).cpu().to_vector<float>(),
            x.to_vector<float>());
  EXPECT_EQ(gx.slice(1, 1, 5, 2).to(DType::F64).cpu().to_vector<double>(),
            x.slice(1, 1, 5, 2).to(DType::F64).to_vector<double>());
  EXPECT_EQ(gx.slice(3, 0, 1).expand({2, 3, 5, 7, 4}).contiguous().cpu().to_vector<float>(),
            x.slice(3, 0, 1).expand({2, 3, 5, 7, 4}).contiguous().to_vector<float>());
  Tensor filled = zeros({4, 6}, DType::F32, kCuda0);
  filled.slice(1, 2, 4).fill_(3.0);
  EXPECT_EQ(filled.cpu().to_vector<float>()[3], 3.0f);
  EXPECT_EQ(filled.cpu().to_vector<float>()[4], 0.0f);
}

TEST(CudaDevice, RandomFillsDrawTheCpuValues) {
  AFN_REQUIRE_CUDA();
  for (DType t : {DType::F32, DType::F64}) {
    Generator a(11), b(11);
    Tensor cpu_u = uniform({10001}, -1, 2, t, a), gpu_u = uniform({10001}, -1, 2, t, kCuda0, b);
    // Same Philox words; only the final multiply-add may round differently (fma on the GPU).
    EXPECT_ALLCLOSE(gpu_u.cpu(), cpu_u, testing::tolerance_for(t, 1, 4));
    Tensor cpu_n = randn({10001}, t, a), gpu_n = randn({10001}, t, kCuda0, b);
    // log/sin/cos of the CUDA math library are within 2 ulp of glibc's.
    EXPECT_ALLCLOSE(gpu_n.cpu(), cpu_n, testing::tolerance_for(t, 1, 16));
  }
}

TEST(CudaAllocator, SteadyStateMakesNoNewDeviceAllocations) {
  AFN_REQUIRE_CUDA();
  auto step = [] {
    Tensor a = ones({1 << 20}, DType::F32, kCuda0);
    Tensor b = ones({1000, 3}, DType::F32, kCuda0);
    Tensor c = zeros({17}, DType::F64, kCuda0);
  };
  step();
  const MemoryStats before = memory_stats(kCuda0);
  for (int i = 0; i < 10; ++i) step();
  const MemoryStats after = memory_stats(kCuda0);
  EXPECT_EQ(after.device_allocations, before.device_allocations);
  EXPECT_EQ(after.reserved, before.reserved);
  EXPECT_EQ(after.allocated, before.allocated);
}

TEST(CudaDevice, PinMemoryCopiesIntoPageLockedMemory) {
  AFN_REQUIRE_CUDA();
  Generator gen(8);
  Tensor x = randn({5, 7}, DType::F32, gen).transpose(0, 1);  // non-contiguous source
  Tensor p = x.pin_memory();
  EXPECT_TRUE(p.is_pinned());
  EXPECT_FALSE(x.is_pinned());
  EXPECT_TRUE(p.is_contiguous());
  EXPECT_EQ(p.to_vector<float>(), x.to_vector<float>());
  EXPECT_TRUE(p.pin_memory().is_same(p));  // already pinned: the same tensor
}

// Each round writes new values into a fresh pinned buffer, queues its copy without waiting and
// drops the host buffer at once: a pinned block reused before its copy has read it, or a
// copy-stream block reused while compute still reads it, would show up as wrong sums.
TEST(CudaDevice, AsyncCopiesFromPinnedMemoryDeliverTheirValues) {
  AFN_REQUIRE_CUDA();
  constexpr int kRounds = 50;
  constexpr int64_t n = (1 << 20) + 3;
  std::vector<Tensor> sums;
  for (int r = 0; r < kRounds; ++r) {
    Tensor host = empty({n}, DType::F64, kCPU, MemoryKind::Pinned);  // f64: exact sums
    double* p = host.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = double(r);
    Tensor dev = host.to(kCuda0, /*non_blocking=*/true);
    EXPECT_EQ(dev.device(), kCuda0);
    sums.push_back(sum(dev));
  }
  for (int r = 0; r < kRounds; ++r)
    EXPECT_EQ(sums[size_t(r)].item<double>(), double(r) * double(n)) << "round " << r;
}

TEST(CudaAllocator, AsyncCopyBlocksAreReusedOnceComputeIsDone) {
  AFN_REQUIRE_CUDA();
  Tensor host = ones({1 << 20}, DType::F32).pin_memory();
  auto step = [&] {
    Tensor dev = host.to(kCuda0, /*non_blocking=*/true);
    Tensor s = sum(dev);
  };
  step();
  synchronize(kCuda0);
  step();  // a second block may be taken while the first one's event is pending
  synchronize(kCuda0);
  const MemoryStats before = memory_stats(kCuda0);
  for (int i = 0; i < 10; ++i) {
    step();
    synchronize(kCuda0);  // the compute stream is done with each block before the next step
  }
  EXPECT_EQ(memory_stats(kCuda0).device_allocations, before.device_allocations);
}

TEST(CudaAllocator, StatsTrackAllocatedAndPeak) {
  AFN_REQUIRE_CUDA();
  synchronize(kCuda0);
  const MemoryStats base = memory_stats(kCuda0);
  reset_peak_memory_stats(kCuda0);
  {
    Tensor a = empty({1 << 22}, DType::F32, kCuda0);  // 16 MiB, a multiple of the 2 MiB step
    EXPECT_EQ(memory_stats(kCuda0).allocated, base.allocated + (size_t(16) << 20));
  }
  const MemoryStats after = memory_stats(kCuda0);
  EXPECT_EQ(after.allocated, base.allocated);
  EXPECT_GE(after.peak_allocated, base.allocated + (size_t(16) << 20));
  EXPECT_GE(after.reserved, after.allocated);
  empty_cache(kCuda0);
  EXPECT_LE(memory_stats(kCuda0).reserved, after.reserved);
}

TEST(CudaAllocator, OutOfMemoryIsAClearError) {
  AFN_REQUIRE_CUDA();
  try {
    empty({int64_t(1) << 42}, DType::F32, kCuda0);  // 16 TiB
    FAIL() << "a 16 TiB allocation must fail";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("CUDA out of memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find("smaller batch"), std::string::npos) << msg;
  }
  Tensor ok = ones({16}, DType::F32, kCuda0);  // the device still works afterwards
  EXPECT_EQ(ok.cpu().to_vector<float>()[15], 1.0f);
}

TEST(CudaDevice, MixedDeviceOperandsAreAnError) {
  AFN_REQUIRE_CUDA();
  EXPECT_THROW(ones({3}).copy_(ones({3}, DType::F32, kCuda0)), Error);
  EXPECT_THROW(zeros({2}, DType::F32, Device("cuda:99")), Error);
}

}  // namespace
}  // namespace afinar
