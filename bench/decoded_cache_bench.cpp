// The decoded-image cache against decoding every epoch, one thread, on 16 JPEGs of 500x375 (an
// ImageNet-sized photo, q90, written at the start of the run into $TMPDIR/afinar-cache-bench/ with
// a cache of them at resize 256):
//   DecodedCache/uncached    image_source: decode_image + RandomResizedCrop(224) + flip + ToTensor
//                            + Normalize, what every epoch costs without the cache
//   DecodedCache/cached      cached_source: the same steps on the mmapped 256-pixel image
//   DecodedCache/image_copy  cache->image(i) alone: the cache's own cost (a copy out of the page
//                            cache), the floor under `cached`
//   DecodedCache/build       DecodedCache::build on 1 thread (decode + Resize(256) + write), per
//                            image: the one-time cost
// img/s counts images; the target is cached >= 5x uncached.
//   build/bench/afinar_bench --benchmark_filter=DecodedCache
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "afinar/data/decoded_cache.h"
#include "afinar/data/image_source.h"
#include "photo_fixture.h"

namespace afinar::data {
namespace {

constexpr int kFiles = bench::kPhotoFiles;

void run_source(benchmark::State& state, const ExampleFn& source) {
  Generator gen(0);
  for (auto _ : state)
    for (int64_t i = 0; i < kFiles; ++i) benchmark::DoNotOptimize(source(i, gen).image);
  state.counters["img/s"] =
      benchmark::Counter(double(kFiles) * double(state.iterations()), benchmark::Counter::kIsRate);
}

const bool registered = [] {
  benchmark::RegisterBenchmark("DecodedCache/uncached", [](benchmark::State& state) {
    run_source(state, image_source(bench::photo_samples(), bench::photo_augmentation()));
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("DecodedCache/cached", [](benchmark::State& state) {
    run_source(state, cached_source(bench::photo_cache(), bench::photo_augmentation()));
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("DecodedCache/image_copy", [](benchmark::State& state) {
    const auto& cache = bench::photo_cache();
    for (auto _ : state)
      for (int64_t i = 0; i < kFiles; ++i) benchmark::DoNotOptimize(cache->image(i).data.data());
    state.counters["img/s"] = benchmark::Counter(double(kFiles) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("DecodedCache/build", [](benchmark::State& state) {
    const std::string path = (bench::photo_dir() / "cache-build").string();
    for (auto _ : state)
      DecodedCache::build(bench::photo_samples(), path, bench::kPhotoCacheOptions);
    state.counters["img/s"] = benchmark::Counter(double(kFiles) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  })->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace afinar::data
