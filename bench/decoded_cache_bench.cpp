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
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "afinar/data/decoded_cache.h"
#include "afinar/data/image_source.h"

namespace afinar::data {
namespace {

constexpr int kFiles = 16, kHeight = 375, kWidth = 500;
const CacheOptions kCache{.resize = 256, .num_threads = 1};

std::filesystem::path bench_dir() {
  return std::filesystem::temp_directory_path() / "afinar-cache-bench";
}

// Photo-like content (smooth colour fields plus ±12 levels of hash noise) so that the JPEGs have a
// realistic size (about 55 KB at q90) and decode cost.
std::vector<uint8_t> photo(int seed) {
  std::vector<uint8_t> rgb(size_t(kHeight) * kWidth * 3);
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x)
      for (int c = 0; c < 3; ++c) {
        const double fx = x / double(kWidth), fy = y / double(kHeight);
        const double smooth = 128 + 100 * std::sin(5 * fx + 3 * c + seed) * std::cos(4 * fy - c);
        uint32_t h = uint32_t(y) * 73856093u ^ uint32_t(x) * 19349663u ^ uint32_t(c * 83 + seed);
        h = (h ^ (h >> 13)) * 0x5bd1e995u;
        rgb[(size_t(y) * kWidth + x) * 3 + c] =
            uint8_t(std::clamp(smooth + double((h >> 8) % 25) - 12, 0.0, 255.0));
      }
  return rgb;
}

// The JPEGs as samples, written once per run.
const std::vector<Sample>& bench_samples() {
  static const std::vector<Sample> samples = [] {
    std::filesystem::create_directories(bench_dir());
    std::vector<Sample> out;
    for (int i = 0; i < kFiles; ++i) {
      const std::string path = (bench_dir() / ("photo" + std::to_string(i) + ".jpg")).string();
      const std::vector<uint8_t> rgb = photo(i);
      AFN_CHECK(stbi_write_jpg(path.c_str(), kWidth, kHeight, 3, rgb.data(), 90),
                "decoded_cache_bench: cannot write ", path);
      out.push_back({path, i % 4});
    }
    return out;
  }();
  return samples;
}

const std::shared_ptr<DecodedCache>& bench_cache() {
  static const auto cache =
      DecodedCache::build(bench_samples(), (bench_dir() / "cache-256").string(), kCache);
  return cache;
}

Compose augmentation() {
  Compose c;
  c.then(RandomResizedCrop(224))
      .then(RandomHorizontalFlip())
      .then(Normalize(kImageNetMean, kImageNetStd));
  return c;
}

void run_source(benchmark::State& state, const ExampleFn& source) {
  Generator gen(0);
  for (auto _ : state)
    for (int64_t i = 0; i < kFiles; ++i) benchmark::DoNotOptimize(source(i, gen).image);
  state.counters["img/s"] =
      benchmark::Counter(double(kFiles) * double(state.iterations()), benchmark::Counter::kIsRate);
}

const bool registered = [] {
  benchmark::RegisterBenchmark("DecodedCache/uncached", [](benchmark::State& state) {
    run_source(state, image_source(bench_samples(), augmentation()));
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("DecodedCache/cached", [](benchmark::State& state) {
    run_source(state, cached_source(bench_cache(), augmentation()));
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("DecodedCache/image_copy", [](benchmark::State& state) {
    const auto& cache = bench_cache();
    for (auto _ : state)
      for (int64_t i = 0; i < kFiles; ++i) benchmark::DoNotOptimize(cache->image(i).data.data());
    state.counters["img/s"] = benchmark::Counter(double(kFiles) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("DecodedCache/build", [](benchmark::State& state) {
    const std::string path = (bench_dir() / "cache-build").string();
    for (auto _ : state) DecodedCache::build(bench_samples(), path, kCache);
    state.counters["img/s"] = benchmark::Counter(double(kFiles) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  })->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace afinar::data
