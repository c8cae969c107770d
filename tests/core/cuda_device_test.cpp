// The CUDA device layer: transfers, strided copies, random fills, the caching allocator.
#include <gtest/gtest.h>

#include "afinar/core/tensor.h"
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
