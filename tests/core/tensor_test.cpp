#include "afinar/core/tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/allocator.h"
#include "afinar/ops/elementwise.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/errors.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

TEST(Tensor, FactoriesFillShapeAndDtype) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::F32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.strides(), (Strides{3, 1}));
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  for (double v : ones({4}, DType::F64).to_vector<double>()) EXPECT_EQ(v, 1.0);
  for (int64_t v : full({3}, 7, DType::I64).to_vector<int64_t>()) EXPECT_EQ(v, 7);
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(scalar_tensor(2.5).item<double>(), 2.5);
  EXPECT_EQ(scalar_tensor(2.5).dim(), 0);
}

TEST(Tensor, FromVectorRoundTripsEveryCpuDtype) {
  EXPECT_EQ(from_vector<uint8_t>({1, 2, 255}, {3}).to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 2, 255}));
  EXPECT_EQ(from_vector<int32_t>({-1, 5}, {2}).to_vector<int32_t>(), (std::vector<int32_t>{-1, 5}));
  EXPECT_EQ(from_vector<double>({0.5, -2}, {2, 1}).to_vector<double>(),
            (std::vector<double>{0.5, -2}));
  EXPECT_THROW(from_vector<float>({1, 2, 3}, {2, 2}), Error);
}

TEST(Tensor, ToDtypeConverts) {
  Tensor x = from_vector<float>({1.5f, -2.25f, 3.0f}, {3});
  EXPECT_EQ(x.to(DType::F64).to_vector<double>(), (std::vector<double>{1.5, -2.25, 3.0}));
  // float -> int truncates toward zero, as a C++ / PyTorch cast does
  EXPECT_EQ(x.to(DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_TRUE(x.to(DType::F32).is_same(x));  // same dtype: no copy
}

TEST(Tensor, ReshapeFlattenShareStorage) {
  Tensor x = arange(24, DType::F32).reshape({2, 3, 4});
  EXPECT_EQ(x.shape(), (Shape{2, 3, 4}));
  Tensor f = x.flatten(1);
  EXPECT_EQ(f.shape(), (Shape{2, 12}));
  EXPECT_EQ(x.reshape({-1, 6}).shape(), (Shape{4, 6}));
  f.fill_(1.0);  // a view: writes reach x
  EXPECT_EQ(x.to_vector<float>()[23], 1.0f);
  EXPECT_THROW(x.reshape({5, 5}), Error);
  EXPECT_THROW(x.reshape({-1, -1}), Error);
}

TEST(Tensor, PermuteAndContiguousReorderValues) {
  Tensor x = arange(6, DType::F32).reshape({2, 3});
  Tensor t = x.transpose(0, 1);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_THROW(x.permute({0, 0}), Error);
}

TEST(Tensor, ChannelsLastStridesAndConversion) {
  Tensor x = arange(2 * 3 * 2 * 2, DType::F32).reshape({2, 3, 2, 2});
  Tensor cl = x.contiguous(MemoryFormat::ChannelsLast);
  EXPECT_EQ(cl.strides(), (Strides{12, 1, 6, 3}));
  EXPECT_TRUE(cl.is_contiguous(MemoryFormat::ChannelsLast));
  EXPECT_FALSE(cl.is_contiguous());
  EXPECT_EQ(cl.to_vector<float>(), x.to_vector<float>());  // same logical values
  // memory order is N,H,W,C: the first three stored values are channel 0,1,2 of pixel (0,0)
  const float* p = cl.data<float>();
  EXPECT_EQ(p[0], 0.0f);
  EXPECT_EQ(p[1], 4.0f);
  EXPECT_EQ(p[2], 8.0f);
}

TEST(Tensor, SliceFollowsPythonBounds) {
  Tensor x = arange(10, DType::F32);
  EXPECT_EQ(x.slice(0, 2, 5).to_vector<float>(), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(x.slice(0, -3, 100).to_vector<float>(), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(x.slice(0, 1, 8, 3).to_vector<float>(), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(x.slice(0, 5, 2).numel(), 0);
  Tensor m = arange(12, DType::F32).reshape({3, 4});
  EXPECT_EQ(m.slice(0, 1, 2).to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(m.slice(1, 1, 3).to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
}

TEST(Tensor, ExpandRepeatsSizeOneDimsWithoutCopying) {
  // torch.arange(3.).reshape(3, 1).expand(2, 3, 2): new leading dim, dim 2 grows, -1 keeps.
  const Tensor x = arange(3, DType::F32).reshape({3, 1});
  const Tensor y = x.expand({2, -1, 2});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(y.strides(), (Strides{0, 1, 0}));
  EXPECT_EQ(y.raw_data_ptr(), x.raw_data_ptr());
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(x.expand({3, 1}).strides(), x.strides());
  EXPECT_EQ(x.expand({0, 3, 0}).numel(), 0);
  EXPECT_EQ(scalar_tensor(5.0).expand({2}).to_vector<float>(), (std::vector<float>{5, 5}));
}

TEST(Tensor, ExpandRefusesWhatPyTorchRefuses) {
  const Tensor x = zeros({3, 1});
  EXPECT_NE(testing::error_of([&] {
              x.expand({4, 1});
            }).find("only a dimension of size 1 can grow"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { x.expand({3}); }).find("at least one size per dimension"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              x.expand({-1, 3, 1});
            }).find("new leading dimension"),
            std::string::npos);
  // Several indices on one element: an in-place write there is an error, not a race.
  Tensor y = x.expand({3, 4});
  EXPECT_NE(testing::error_of([&] { y.fill_(1.0); }).find("expand view"), std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              y.copy_(ones({3, 4}));
            }).find("expand view"),
            std::string::npos);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, 0, 0}));
}

TEST(Tensor, ExpandGradientSumsOverTheGrownDims) {
  Generator gen(7);
  const Tensor x = testing::leaf_f64({3, 1, 2}, gen);
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return in[0].expand({2, 3, 4, 2}) * 1.5;
      },
      {x});
  const Tensor s = testing::leaf_f64({}, gen);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].expand({3}); }, {s});
}

TEST(Tensor, CopyChecksShapeAndConverts) {
  Tensor dst = zeros({2, 2}, DType::F64);
  dst.copy_(from_vector<float>({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(dst.to_vector<double>(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_THROW(dst.copy_(zeros({4})), Error);  // never a silent broadcast or reshape
}

TEST(Tensor, RandomFactoriesAreSeededAndDistributed) {
  Generator g1(42), g2(42);
  Tensor a = randn({10000}, DType::F32, g1), b = randn({10000}, DType::F32, g2);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  Tensor c = randn({10000}, DType::F32, g1);  // the generator advanced: new values
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  // Sample mean and variance of 10^4 normals: standard errors 0.01 and ~0.014; 5 sigma bounds.
  double mean = 0, var = 0;
  for (float v : a.to_vector<float>()) mean += v;
  mean /= 10000;
  for (float v : a.to_vector<float>()) var += (v - mean) * (v - mean);
  var /= 9999;
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(var, 1.0, 0.07);
  Tensor u = uniform({10000}, -2.0, 3.0, DType::F64, g1);
  for (double v : u.to_vector<double>()) {
    EXPECT_GE(v, -2.0);
    EXPECT_LT(v, 3.0);
  }
}

TEST(Tensor, ErrorsNameTheProblem) {
  try {
    zeros({2, 3}).reshape({7});
    FAIL() << "reshape to a wrong size must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[7] is invalid for a tensor of shape [2, 3]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(zeros({2}).item<float>(), Error);
  EXPECT_THROW(zeros({2}).data<double>(), Error);  // wrong dtype
  EXPECT_THROW(Tensor().clone(), Error);
}

TEST(Tensor, CudaDeviceWithoutGpuIsAClearError) {
  if (cuda_device_count() > 0)
    GTEST_SKIP() << "a GPU is visible; this test covers machines without";
  try {
    zeros({2}, DType::F32, Device("cuda:0"));
    FAIL() << "allocating on cuda without a GPU must throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(msg.find("no CUDA GPU is visible") != std::string::npos ||
                msg.find("built without CUDA") != std::string::npos)
        << msg;
  }
  EXPECT_THROW(Device("gpu"), Error);
  EXPECT_EQ(Device("cuda:3").index, 3);
}

TEST(Tensor, PrintsShapeAndValues) {
  std::ostringstream os;
  os << from_vector<float>({1, 2, 3}, {3});
  EXPECT_EQ(os.str(), "Tensor(shape=[3], dtype=float32, device=cpu, values=[1, 2, 3])");
}

TEST(Tensor, StorageIsFreedWithTheLastHandle) {
  const size_t before = cpu_bytes_allocated();
  {
    Tensor x = zeros({1000});
    Tensor v = x.reshape({10, 100});
    EXPECT_EQ(cpu_bytes_allocated(), before + 4000);
  }
  EXPECT_EQ(cpu_bytes_allocated(), before);
}

// Shapes from files (a .pth's tensor records, found by fuzzing: tests/fuzz/torch_file/
// shape_strides_overflow.pth) whose element count or strides pass 64 bits are errors, not wrapped
// (undefined) arithmetic; a size-0 dim makes any shape empty.
TEST(Tensor, ShapesPast64BitsAreErrors) {
  const int64_t big = int64_t(1) << 40;
  EXPECT_NE(testing::error_of([&] {
              empty({big, big});
            }).find("more elements than a 64-bit count holds"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              empty({4, big, big, 0});
            }).find("its strides do not fit in 64 bits"),
            std::string::npos);
  const Tensor e = empty({big, 4, 0});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.strides(), (Strides{4, 1, 1}));
  // Strided: the last element's offset, then its bytes, must fit (no wrap to a small block).
  const std::string span = "spans more bytes than 64 bits can count";
  EXPECT_NE(testing::error_of([&] {
              empty_strided({3, 2}, {int64_t(1) << 62, 1}, DType::F32);
            }).find(span),
            std::string::npos);
  EXPECT_NE(
      testing::error_of([&] { empty_strided({int64_t(1) << 61}, {1}, DType::F64); }).find(span),
      std::string::npos);
  EXPECT_EQ(empty_strided({3, 0}, {int64_t(1) << 62, 1}, DType::F32).numel(), 0);
}

// More than the machine's RAM + swap, up to SIZE_MAX (whose 64-byte padding would wrap around
// to a tiny block): an out-of-memory error, nothing allocated.
TEST(Tensor, AllocationsLargerThanTheMachineAreAClearError) {
  const size_t before = cpu_bytes_allocated();
  for (size_t nbytes : {size_t(1) << 62, SIZE_MAX - 8, SIZE_MAX}) {
    try {
      Storage s(nbytes, kCPU);
      ADD_FAILURE() << nbytes << " bytes were allocated";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("out of memory: could not allocate " +
                                           std::to_string(nbytes) + " bytes on the cpu"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(cpu_bytes_allocated(), before);
}

TEST(Tensor, PinnedMemoryNeedsAGpu) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is visible: CudaDevice.PinMemory* cover it";
  Tensor x = ones({3});
  EXPECT_FALSE(x.is_pinned());
  try {
    x.pin_memory();
    FAIL() << "pin_memory without a GPU must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
  EXPECT_THROW(empty({3}, DType::F32, kCPU, MemoryKind::Pinned), Error);
  EXPECT_TRUE(x.to(kCPU, /*non_blocking=*/true).is_same(x));  // already there: no copy
}

}  // namespace
}  // namespace afinar

// ---- bfloat16 ----

namespace afinar {
namespace {

// Goldens from torch 1.13: torch.tensor(values).bfloat16().view(torch.int16) and .float().
TEST(BFloat16, ConvertsAsPyTorch) {
  const std::vector<float> values = {
      1.0f,          -2.5f,   3.14159265f,    1.00390625f, 1.01171875f, 65504.0f,
      3.3895314e38f, 3.4e38f, INFINITY,       -INFINITY,   1e-40f,      -1e-45f,
      0.0f,          -0.0f,   1.1754944e-38f, 0.1f,        -0.3333333f};
  // 1 + 2^-8 and 1 + 3·2^-8 are ties: to the even neighbour (1.0 and 1 + 2^-6); 3.4e38 and the
  // infinities overflow to inf; 1e-40 keeps its top subnormal bit; -1e-45 rounds to -0.
  const std::vector<uint16_t> bits = {0x3f80, 0xc020, 0x4049, 0x3f80, 0x3f82, 0x4780,
                                      0x7f7f, 0x7f80, 0x7f80, 0xff80, 0x0001, 0x8000,
                                      0x0000, 0x8000, 0x0080, 0x3dcd, 0xbeab};
  const Tensor b = from_vector<float>(values, {int64_t(values.size())}).to(DType::BF16);
  ASSERT_EQ(b.dtype(), DType::BF16);
  const std::vector<BFloat16> got = b.to_vector<BFloat16>();
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(got[i].bits, bits[i]) << "value " << values[i];
  // Back to float is exact: 3.14159265 -> 3.140625, 0.1 -> 0.10009765625, 65504 -> 65536.
  const std::vector<float> back = b.to(DType::F32).to_vector<float>();
  EXPECT_EQ(back[2], 3.140625f);
  EXPECT_EQ(back[15], 0.10009765625f);
  EXPECT_EQ(back[5], 65536.0f);
  EXPECT_TRUE(std::signbit(back[13]));

  EXPECT_TRUE(std::isnan(from_vector<float>({NAN}, {1}).to(DType::BF16).item<float>()));
  // float64 rounds to float32 first: 1 + 2^-8 + 2^-30 becomes the tie 1 + 2^-8, then 1.0.
  EXPECT_EQ(
      from_vector<double>({1.0 + 0x1p-8 + 0x1p-30}, {1}).to(DType::BF16).item<BFloat16>().bits,
      0x3f80);
  // To integers: truncation of the bf16 value (300.7 -> 300, -5.9 -> -5.90625 -> -5).
  EXPECT_EQ(
      from_vector<float>({300.7f, -5.9f}, {2}).to(DType::BF16).to(DType::I64).to_vector<int64_t>(),
      (std::vector<int64_t>{300, -5}));
  // Filling and printing.
  EXPECT_EQ(full({2}, 0.1, DType::BF16).to_vector<float>(),
            (std::vector<float>{0.10009765625f, 0.10009765625f}));
  std::ostringstream os;
  os << full({2}, 1.5, DType::BF16);
  EXPECT_NE(os.str().find("dtype=bfloat16"), std::string::npos) << os.str();
  EXPECT_NE(os.str().find("1.5"), std::string::npos) << os.str();
}

// randn / uniform in bf16: the float32 draws of the same generator state, rounded (so the same
// values on every device, as the float32 ones).
TEST(BFloat16, RandomFactoriesRoundTheFloat32Draws) {
  Generator a(5), b(5);
  testing::expect_identical(randn({37}, DType::BF16, a), randn({37}, DType::F32, b).to(DType::BF16),
                            "randn");
  testing::expect_identical(uniform({9}, -2, 3, DType::BF16, a),
                            uniform({9}, -2, 3, DType::F32, b).to(DType::BF16), "uniform");
}

// A cast to bf16 and back is differentiable: the gradient is cast back to the input's dtype.
TEST(BFloat16, CastsAreDifferentiable) {
  Tensor x = from_vector<float>({0.1f, 2.0f, -3.0f}, {3}).set_requires_grad(true);
  Tensor y = x.to(DType::BF16);
  EXPECT_TRUE(y.requires_grad());
  y.to(DType::F32).backward(from_vector<float>({1.0f, 0.1f, -2.0f}, {3}));
  ASSERT_EQ(x.grad().dtype(), DType::F32);
  // The gradient passed through bf16 on its way back: 0.1 is rounded there.
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1.0f, 0.10009765625f, -2.0f}));
}

// ---- float16 ----

// Goldens from torch 1.13: torch.tensor(values).half().view(torch.int16) and .float().
TEST(Half, ConvertsAsPyTorch) {
  const std::vector<float> values = {
      1.0f,       -2.5f,   3.14159265f, 1.00048828125f, 1.00146484375f, 65504.0f,      65519.99f,
      65520.0f,   1e5f,    INFINITY,    -INFINITY,      0x1p-25f,       0x1.0007p-25f, 0x1.8p-24f,
      0x1.4p-23f, 6.1e-5f, 0.0f,        -0.0f,          0.1f,           -0.3333333f,   1e-40f};
  // 1 + 2^-11 and 1 + 3·2^-11 are ties: to the even neighbours 1.0 and 1 + 2^-9; from 65520 (the
  // tie between 65504 and 2^16) up is inf; 2^-25 ties to 0, just above it to the smallest
  // subnormal 2^-24; 1.5·2^-24 and 2.5·2^-24 tie to 2·2^-24; 6.1e-5 is a subnormal (0x3ff).
  const std::vector<uint16_t> bits = {0x3c00, 0xc100, 0x4248, 0x3c00, 0x3c02, 0x7bff, 0x7bff,
                                      0x7c00, 0x7c00, 0x7c00, 0xfc00, 0x0000, 0x0001, 0x0002,
                                      0x0002, 0x03ff, 0x0000, 0x8000, 0x2e66, 0xb555, 0x0000};
  const Tensor h = from_vector<float>(values, {int64_t(values.size())}).to(DType::F16);
  ASSERT_EQ(h.dtype(), DType::F16);
  const std::vector<Half> got = h.to_vector<Half>();
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(got[i].bits, bits[i]) << "value " << values[i];
  // Back to float is exact, subnormals included.
  const std::vector<float> back = h.to(DType::F32).to_vector<float>();
  EXPECT_EQ(back[2], 3.140625f);
  EXPECT_EQ(back[12], 0x1p-24f);
  EXPECT_EQ(back[15], 6.097555160522461e-05f);
  EXPECT_EQ(back[18], 0.0999755859375f);
  EXPECT_TRUE(std::signbit(back[17]));
  // NaN: the quiet NaN 0x7e00 with its sign (torch: -nan -> 0xfe00).
  EXPECT_EQ(from_vector<float>({NAN}, {1}).to(DType::F16).item<Half>().bits, 0x7e00);
  EXPECT_EQ(from_vector<float>({-NAN}, {1}).to(DType::F16).item<Half>().bits, 0xfe00);
  EXPECT_TRUE(std::isnan(float(Half::from_bits(0x7e01))));
  // float64 rounds to float32 first: 1 + 2^-11 + 2^-40 becomes the tie 1 + 2^-11, then 1.0.
  EXPECT_EQ(from_vector<double>({1.0 + 0x1p-11 + 0x1p-40}, {1}).to(DType::F16).item<Half>().bits,
            0x3c00);
  EXPECT_EQ(
      from_vector<float>({300.7f, -5.9f}, {2}).to(DType::F16).to(DType::I64).to_vector<int64_t>(),
      (std::vector<int64_t>{300, -5}));
  EXPECT_EQ(full({2}, 0.1, DType::F16).to_vector<float>(),
            (std::vector<float>{0.0999755859375f, 0.0999755859375f}));
  std::ostringstream os;
  os << full({2}, 1.5, DType::F16);
  EXPECT_NE(os.str().find("dtype=float16"), std::string::npos) << os.str();
  EXPECT_NE(os.str().find("1.5"), std::string::npos) << os.str();
  // Every one of the 65536 bit patterns survives half -> float -> half (NaNs stay NaN).
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const Half x = Half::from_bits(uint16_t(b));
    const float f = float(x);
    if (std::isnan(f)) continue;
    ASSERT_EQ(Half(f).bits, x.bits) << std::hex << b;
  }
}

TEST(Half, RandomFactoriesRoundTheFloat32Draws) {
  Generator a(5), b(5);
  testing::expect_identical(randn({37}, DType::F16, a), randn({37}, DType::F32, b).to(DType::F16),
                            "randn");
  testing::expect_identical(uniform({9}, -2, 3, DType::F16, a),
                            uniform({9}, -2, 3, DType::F32, b).to(DType::F16), "uniform");
}

TEST(BFloat16Cuda, CastsAsTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(3);
  std::vector<float> v = randn({4099}, DType::F32, gen).to_vector<float>();
  const float edges[] = {INFINITY, -INFINITY, 3.4e38f, 1e-40f, -0.0f, 1.00390625f, 1.01171875f};
  std::copy(std::begin(edges), std::end(edges), v.begin());
  const Tensor x = from_vector<float>(v, {int64_t(v.size())});
  const std::vector<BFloat16> cpu = x.to(DType::BF16).to_vector<BFloat16>();
  const std::vector<BFloat16> gpu = x.cuda().to(DType::BF16).cpu().to_vector<BFloat16>();
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(gpu[i].bits, cpu[i].bits) << "value " << v[i];
  // And back, on the device.
  testing::expect_identical(x.to(DType::BF16).cuda().to(DType::F32).cpu(),
                            x.to(DType::BF16).to(DType::F32), "bf16 -> f32 on the GPU");
}

}  // namespace
}  // namespace afinar
