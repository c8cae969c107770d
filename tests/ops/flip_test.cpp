// flip: a hand-worked matrix, every dim subset of odd-sized and 0/1-length shapes against the
// closed form y[i] = x[j] (j_d = size_d - 1 - i_d on flipped dims) computed here by index
// arithmetic, strided inputs, every dtype bit for bit, the merged plan, bad dims, an f64 gradient
// check, and the CUDA kernel against the CPU reference.
#include "afinar/ops/flip.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/errors.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

using testing::expect_identical;

// The closed form, independent of the plan: for each output element (row-major over `shape`),
// its coordinates, the source coordinates and the source's row-major index in contiguous x.
Tensor flip_closed_form(const Tensor& x, const std::vector<int64_t>& dims) {
  const Tensor xc = x.contiguous();
  const Shape& shape = x.shape();
  const int64_t nd = x.dim();
  std::vector<bool> rev(size_t(std::max<int64_t>(nd, 1)), false);
  for (int64_t d : dims) rev[size_t(d < 0 ? d + std::max<int64_t>(nd, 1) : d)] = true;
  const std::vector<double> v = xc.to_vector<double>();
  std::vector<double> out(v.size());
  for (int64_t i = 0; i < int64_t(v.size()); ++i) {
    int64_t rest = i, src = 0, scale = 1;
    for (int64_t d = nd - 1; d >= 0; --d) {
      const int64_t size = shape[size_t(d)], c = rest % size;
      rest /= size;
      src += (rev[size_t(d)] ? size - 1 - c : c) * scale;
      scale *= size;
    }
    out[size_t(i)] = v[size_t(src)];
  }
  return from_vector(out, shape).to(x.dtype());
}

// Every subset of the dims of an `nd`-D tensor, written with negative dims where `negative`.
std::vector<std::vector<int64_t>> dim_subsets(int64_t nd, bool negative) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t mask = 0; mask < (int64_t(1) << nd); ++mask) {
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < nd; ++d)
      if (mask & (int64_t(1) << d)) dims.push_back(negative ? d - nd : d);
    out.push_back(dims);
  }
  return out;
}

TEST(FlipOp, HandWorkedMatrix) {
  const Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(flip(x, {1}).to_vector<double>(), (std::vector<double>{3, 2, 1, 6, 5, 4}));
  EXPECT_EQ(flip(x, {0}).to_vector<double>(), (std::vector<double>{4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(flip(x, {-1, 0}).to_vector<double>(), (std::vector<double>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(flip(x, {}).to_vector<double>(), x.to_vector<double>());
  EXPECT_FALSE(flip(x, {}).is_same(x));  // a copy, as torch.flip
}

TEST(FlipOp, EveryDimSubsetMatchesTheClosedForm) {
  Generator gen(1);
  const std::vector<Shape> shapes = {{7},    {2, 3, 5}, {3, 1, 4}, {1, 5, 1, 3},   {2, 3, 2, 5},
                                     {0, 3}, {2, 0, 5}, {1},       {3, 4, 1, 1, 5}};
  for (const Shape& shape : shapes) {
    const Tensor x = uniform(shape, -10, 10, DType::F64, gen);
    for (bool negative : {false, true}) {
      for (const auto& dims : dim_subsets(int64_t(shape.size()), negative)) {
        SCOPED_TRACE(shape_str(shape) + " dims " + shape_str(dims));
        const Tensor y = flip(x, dims);
        EXPECT_TRUE(y.is_contiguous());
        expect_identical(y, flip_closed_form(x, dims), "flip");
      }
    }
  }
}

TEST(FlipOp, ZeroDimTensorCountsAsOneElement) {
  const Tensor s = scalar_tensor(3.5, DType::F64);
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{}, {0}, {-1}}) {
    const Tensor y = flip(s, dims);
    EXPECT_EQ(y.dim(), 0);
    EXPECT_EQ(y.item<double>(), 3.5);
  }
  EXPECT_THROW(flip(s, {1}), Error);
}

// Transposed, sliced with a step, and broadcast (zero-stride) inputs: the plan walks their own
// strides; the result is the flip of their contiguous copy, and contiguous itself.
TEST(FlipOp, StridedInputs) {
  Generator gen(2);
  const Tensor base = uniform({4, 6, 5}, -1, 1, DType::F32, gen);
  const std::vector<Tensor> views = {base.permute({2, 0, 1}), base.slice(1, 1, 6, 2),
                                     base.slice(2, 4, 5).transpose(0, 1),
                                     from_vector<float>({1, 2, 3}, {3, 1}).detach()};
  const Tensor broadcast = from_vector<float>({1, 2, 3}, {3, 1}).expand({3, 4});  // strides {1, 0}
  std::vector<Tensor> all = views;
  all.push_back(broadcast);
  for (const Tensor& v : all) {
    for (const auto& dims : dim_subsets(v.dim(), false)) {
      SCOPED_TRACE(shape_str(v.shape()) + " strides " + shape_str(v.strides()) + " dims " +
                   shape_str(dims));
      const Tensor y = flip(v, dims);
      EXPECT_TRUE(y.is_contiguous());
      expect_identical(y, flip_closed_form(v, dims), "flip");
    }
  }
}

// A channels-last input flips into a channels-last output (as torch.flip keeps the format), every
// dim subset, negative dims too: the plan walks N, H, W, C.
TEST(FlipOp, KeepsChannelsLast) {
  Generator gen(5);
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{3, 2, 1, 1}, Shape{1, 4, 3, 1}}) {
    const Tensor x = uniform(shape, -1, 1, DType::F32, gen).to(MemoryFormat::ChannelsLast);
    for (bool negative : {false, true}) {
      for (const auto& dims : dim_subsets(4, negative)) {
        SCOPED_TRACE(shape_str(shape) + " dims " + shape_str(dims));
        const Tensor y = flip(x, dims);
        EXPECT_EQ(suggest_memory_format(y), MemoryFormat::ChannelsLast);
        expect_identical(y, flip_closed_form(x, dims), "flip");
      }
    }
  }
}

// A flip moves bits: every dtype, NaN payloads and -0.0 included, 16-bit floats as raw words.
TEST(FlipOp, EveryDtypeBitForBit) {
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::I32, DType::U8}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = from_vector<double>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4}).to(dt);
    expect_identical(flip(x, {0, 1}), flip_closed_form(x, {0, 1}), "flip");
    expect_identical(flip(x, {1}), flip_closed_form(x, {1}), "flip");
  }
  uint32_t payload = 0x7fc01234u, negzero = 0x80000000u;
  float nan_bits, neg0;
  std::memcpy(&nan_bits, &payload, 4);
  std::memcpy(&neg0, &negzero, 4);
  const Tensor f = from_vector<float>({nan_bits, 1.0f, neg0}, {3});
  const Tensor g = flip(f, {0});
  uint32_t out[3];
  std::memcpy(out, g.raw_data(), sizeof out);
  EXPECT_EQ(out[0], negzero);
  EXPECT_EQ(out[2], payload);
  for (DType dt : {DType::BF16, DType::F16}) {
    Tensor h = empty({2, 3}, dt);
    const uint16_t in[6] = {0x3c00, 0x4000, 0x7e01, 0x8000, 0x0001, 0xfbff};
    std::memcpy(h.raw_data(), in, sizeof in);
    const Tensor r = flip(h, {-1});
    ASSERT_EQ(r.dtype(), dt);
    uint16_t got[6];
    std::memcpy(got, r.raw_data(), sizeof got);
    EXPECT_EQ(std::vector<uint16_t>(got, got + 6),
              (std::vector<uint16_t>{0x7e01, 0x4000, 0x3c00, 0xfbff, 0x0001, 0x8000}));
  }
}

// The merging the header promises: a horizontal flip of NCHW is a [N·C·H, W] walk; reversing
// N and C together is one dim; size-1 dims vanish.
TEST(FlipOp, PlanMergesNeighbouringDims) {
  const Shape s = {2, 3, 4, 5};
  const ops::FlipPlan w = ops::flip_plan(s, contiguous_strides(s), {3});
  EXPECT_EQ(w.sizes, (std::vector<int64_t>{24, 5}));
  EXPECT_EQ(w.steps, (std::vector<int64_t>{5, -1}));
  EXPECT_EQ(w.base, 4);
  const ops::FlipPlan nc = ops::flip_plan(s, contiguous_strides(s), {0, 1});
  EXPECT_EQ(nc.sizes, (std::vector<int64_t>{6, 20}));
  EXPECT_EQ(nc.steps, (std::vector<int64_t>{-20, 1}));
  EXPECT_EQ(nc.base, 100);
  const Shape t = {3, 1, 4};
  const ops::FlipPlan one = ops::flip_plan(t, contiguous_strides(t), {0, 1, 2});
  EXPECT_EQ(one.sizes, (std::vector<int64_t>{12}));
  EXPECT_EQ(one.steps, (std::vector<int64_t>{-1}));
  EXPECT_EQ(one.base, 11);
}

TEST(FlipOp, BadDimsAreErrors) {
  const Tensor x = zeros({2, 3});
  EXPECT_NE(testing::error_of([&] {
              flip(x, {0, -2});
            }).find("dim 0 appears more than once"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { flip(x, {1, 1}); }).find("more than once"), std::string::npos);
  EXPECT_NE(testing::error_of([&] { flip(x, {2}); }).find("out of range"), std::string::npos);
  EXPECT_THROW(flip(x, {-3}), Error);
  EXPECT_THROW(flip(Tensor(), {0}), Error);
}

TEST(FlipOp, Gradcheck) {
  Generator gen(3);
  for (const auto& dims : {std::vector<int64_t>{0, 2}, {-1}, {1}, {}}) {
    SCOPED_TRACE(shape_str(dims));
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return flip(in[0], dims); },
                     {testing::leaf_f64({3, 2, 5}, gen)});
  }
  // Through a strided view: the gradient lands on the base's elements.
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return flip(in[0].transpose(0, 1), {0}); },
                   {testing::leaf_f64({3, 4}, gen)});
}

TEST(FlipOp, IntegerTensorsRecordNothing) {
  const Tensor y = flip(arange(5), {0});
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{4, 3, 2, 1, 0}));
}

TEST(FlipOpCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(4);
  const std::vector<Shape> shapes = {
      {1}, {33}, {3, 1, 7}, {5, 3, 17, 19}, {2, 3, 4, 5, 6, 7}, {64, 3, 31, 33}, {1000003}};
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::I32, DType::U8, DType::F16}) {
    for (const Shape& shape : shapes) {
      // Non-negative values: a float outside uint8's range would not convert.
      const Tensor x =
          uniform(shape, 0, 200, DType::F32, gen).to(dt == DType::F16 ? DType::F32 : dt);
      const Tensor xg = dt == DType::F16 ? x.cuda().to(DType::F16) : x.cuda();
      const Tensor xc = xg.cpu();  // the same bits on the host (f16 via its storage)
      std::vector<std::vector<int64_t>> dims_list = {{}, {0}, {-1}};
      if (shape.size() >= 2) dims_list.push_back({0, int64_t(shape.size()) - 1});
      if (shape.size() >= 4) dims_list.push_back({1, 3});
      for (const auto& dims : dims_list) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " " + shape_str(shape) + " dims " +
                     shape_str(dims));
        const Tensor got = flip(xg, dims);
        ASSERT_EQ(got.device(), testing::kCuda0);
        expect_identical(got.cpu(), flip(xc, dims), "flip");
      }
    }
  }
  // Channels-last on the device: the same N, H, W, C walk.
  const Tensor cl = uniform({3, 5, 7, 4}, -1, 1, DType::F32, gen).to(MemoryFormat::ChannelsLast);
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{3}, {1, 2}, {0, -1}}) {
    const Tensor got = flip(cl.cuda(), dims);
    EXPECT_EQ(suggest_memory_format(got), MemoryFormat::ChannelsLast);
    expect_identical(got.cpu(), flip(cl, dims), "channels-last flip");
  }
  // A strided input on the device: the plan walks its strides there too.
  const Tensor base = uniform({6, 5, 7}, -1, 1, DType::F32, gen);
  const Tensor view = base.cuda().permute({2, 0, 1}).slice(1, 1, 6, 2);
  expect_identical(flip(view, {0, 2}).cpu(),
                   flip(base.permute({2, 0, 1}).slice(1, 1, 6, 2), {0, 2}), "strided flip");
  // Autograd on the device: the gradient is the flipped upstream gradient.
  Tensor leaf = uniform({4, 9}, -1, 1, DType::F32, gen).cuda().set_requires_grad(true);
  const Tensor up = uniform({4, 9}, -1, 1, DType::F32, gen);
  flip(leaf, {1}).backward(up.cuda());
  expect_identical(leaf.grad().cpu(), flip(up, {1}), "grad");
}

}  // namespace
}  // namespace afinar
