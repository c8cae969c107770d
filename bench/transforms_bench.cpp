// Image transforms on one 500x375 RGB image (a typical ImageNet JPEG size), single-threaded,
// reported as images/s (items_per_second):
//   Transforms/Resize256CenterCrop224       Resize(256) + CenterCrop(224): eval geometry
//   Transforms/EvalTransform                + ToTensor + Normalize: the whole eval pipeline
//   Transforms/RandomResizedCrop224Flip     RandomResizedCrop(224) + RandomHorizontalFlip
//   Transforms/TrainTransform               train_transform(): RandomResizedCrop(224) + flip +
//                                           ToTensor + Normalize, the default train pipeline
//   Transforms/TrainTransform341x256        the same on a 341x256 image (what the decoded cache
//                                           holds at resize 256)
//   Transforms/HeavyAugmentation            seed 003's train pipeline (heavy_augmentation())
//   Transforms/TrainTransform<Policy>       train_transform() with --auto-augment ta_wide
//                                           (TrivialAugmentWide), ra (RandAugment), imagenet
//                                           (AutoAugment) or augmix (AugMix) after the flip,
//                                           resampling bilinearly (the default --interpolation)
// torchvision's PIL path on the same machine is the reference: bench/torch/transforms.py times the
// same pipelines on the same image (tools/bench/compare.py --threads 1 --filter Transforms).
//   build/bench/afinar_bench --benchmark_filter=Transforms
#include <benchmark/benchmark.h>

#include <functional>

#include "afinar/data/transforms.h"

namespace afinar::data {
namespace {

// Smooth gradients plus a hash as texture: the resampling cost does not depend on content, but
// a realistic image keeps the benchmark honest about memory traffic.
Image test_image(int64_t height = 375, int64_t width = 500) {
  Image img(height, width, 3);
  for (int64_t y = 0; y < img.height; ++y) {
    for (int64_t x = 0; x < img.width; ++x) {
      uint8_t* p = img.pixel(y, x);
      const uint32_t h = uint32_t(x * 73856093u ^ y * 19349663u);
      p[0] = uint8_t(x / 2 + (h & 15));
      p[1] = uint8_t(y / 2 + (h >> 4 & 15));
      p[2] = uint8_t((x + y) / 4 + (h >> 8 & 15));
    }
  }
  return img;
}

void run(benchmark::State& state, const std::function<void(const Image&, Generator&)>& fn,
         const Image& img = test_image()) {
  Generator gen(0);
  for (auto _ : state) fn(img, gen);
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void resize_center_crop(benchmark::State& state) {
  const Resize resize(256);
  const CenterCrop crop(224);
  run(state, [&](const Image& img, Generator&) {
    Image out = crop(resize(img));
    benchmark::DoNotOptimize(out.data.data());
  });
}

void eval_pipeline(benchmark::State& state) {
  const Compose t = eval_transform();
  run(state, [&](const Image& img, Generator& gen) {
    Tensor out = t(img, gen);
    benchmark::DoNotOptimize(out.raw_data());
  });
}

void random_resized_crop_flip(benchmark::State& state) {
  const RandomResizedCrop rrc(224);
  const RandomHorizontalFlip flip;
  run(state, [&](const Image& img, Generator& gen) {
    Image out = flip(rrc(img, gen), gen);
    benchmark::DoNotOptimize(out.data.data());
  });
}

void train_pipeline(benchmark::State& state, const TrainTransformOptions& options, int64_t height,
                    int64_t width) {
  const Compose t = train_transform(options);
  run(
      state,
      [&](const Image& img, Generator& gen) {
        Tensor out = t(img, gen);
        benchmark::DoNotOptimize(out.raw_data());
      },
      test_image(height, width));
}

BENCHMARK(resize_center_crop)
    ->Name("Transforms/Resize256CenterCrop224")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(eval_pipeline)->Name("Transforms/EvalTransform")->Unit(benchmark::kMicrosecond);
BENCHMARK(random_resized_crop_flip)
    ->Name("Transforms/RandomResizedCrop224Flip")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(train_pipeline, 500x375, TrainTransformOptions{}, 375, 500)
    ->Name("Transforms/TrainTransform")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(train_pipeline, 341x256, TrainTransformOptions{}, 256, 341)
    ->Name("Transforms/TrainTransform341x256")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(train_pipeline, heavy, heavy_augmentation(), 375, 500)
    ->Name("Transforms/HeavyAugmentation")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(train_pipeline, ta_wide, TrainTransformOptions{.auto_augment = "ta_wide"}, 375,
                  500)
    ->Name("Transforms/TrainTransformTrivialAugmentWide")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(train_pipeline, ra, TrainTransformOptions{.auto_augment = "ra"}, 375, 500)
    ->Name("Transforms/TrainTransformRandAugment")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(train_pipeline, imagenet, TrainTransformOptions{.auto_augment = "imagenet"}, 375,
                  500)
    ->Name("Transforms/TrainTransformAutoAugment")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(train_pipeline, augmix, TrainTransformOptions{.auto_augment = "augmix"}, 375, 500)
    ->Name("Transforms/TrainTransformAugMix")
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace afinar::data
