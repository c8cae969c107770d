// End-to-end loading: one epoch of DataLoader(image_source(...)) over an ImageFolder of 256 JPEGs
// (4 classes of 64, 500x375, quality 90, 4:2:0 chroma; photo-like synthetic content, 50-60 KB
// each), written at the start of the run with stb_image_write into
// $TMPDIR/afinar-loader-bench/class<k>/<i>.jpg. The pipeline is the ImageNet training one,
// train_transform(): RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize, batch
// 64, shuffled; one iteration is one full epoch (4 batches), after one untimed warm-up epoch.
//   LoaderEpoch/workers0     num_workers = 0: every sample is loaded on the calling thread, so
//                            this is the per-core figure (nothing in decoding or the transforms
//                            starts threads of its own)
//   LoaderEpoch/all_cores    num_workers = AFINAR_BENCH_THREADS (default: the number of CPUs)
// img/s counts images delivered. bench/torch/loader.py times torch.utils.data.DataLoader over
// torchvision.datasets.ImageFolder with the same transforms (PIL) on the same files, under the
// same names:
//   build/bench/afinar_bench --benchmark_filter=Loader
//   tools/bench/compare.py --filter Loader     (runs this first: it writes the files)
#include <stb/stb_image_write.h>  // the implementation is compiled once, in libafinar

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/data/dataset.h"
#include "afinar/data/image_source.h"
#include "afinar/data/loader.h"
#include "afinar/data/transforms.h"

namespace afinar::data {
namespace {

constexpr int kClasses = 4, kPerClass = 64, kHeight = 375, kWidth = 500, kBatch = 64;

// A deterministic photo-like image: a smooth colour field that varies with `seed`, a bright disc
// with a hard edge, and ±12 levels of per-pixel hash noise. The noise is what gives a q90 JPEG
// the size (and so the entropy-decoding cost) of a real photo of this size.
std::vector<uint8_t> photo(int seed) {
  std::vector<uint8_t> rgb(size_t(kHeight) * kWidth * 3);
  const double phase = 0.37 * seed, cx = 0.3 + 0.4 * std::fmod(0.61 * seed, 1.0);
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x) {
      const double fx = x / double(kWidth), fy = y / double(kHeight);
      const bool disc = (fx - cx) * (fx - cx) + (fy - 0.5) * (fy - 0.5) < 0.02;
      const double v[3] = {120 + 80 * std::sin(5 * fx + phase) * std::cos(3 * fy) + (disc ? 70 : 0),
                           70 + 140 * fx * fy + 25 * std::sin(17 * fy + phase),
                           190 - 130 * fy + 35 * std::cos(8 * (fx + fy) + phase)};
      for (int c = 0; c < 3; ++c) {
        uint32_t h = uint32_t(y) * 73856093u ^ uint32_t(x) * 19349663u ^
                     (uint32_t(c) * 83492791u + uint32_t(seed) * 2654435761u);
        h = (h ^ (h >> 13)) * 0x5bd1e995u;
        const double noise = double((h >> 8) % 25) - 12;
        rgb[(size_t(y) * kWidth + x) * 3 + c] = uint8_t(std::clamp(v[c] + noise, 0.0, 255.0));
      }
    }
  return rgb;
}

// Writes the ImageFolder once per run and lists it.
const ImageFolder& bench_folder() {
  static const ImageFolder folder = [] {
    const auto root = std::filesystem::temp_directory_path() / "afinar-loader-bench";
    for (int k = 0; k < kClasses; ++k) {
      const auto dir = root / ("class" + std::to_string(k));
      std::filesystem::create_directories(dir);
      for (int i = 0; i < kPerClass; ++i) {
        const std::vector<uint8_t> rgb = photo(k * kPerClass + i);
        const std::string path = (dir / (std::to_string(i) + ".jpg")).string();
        AFN_CHECK(stbi_write_jpg(path.c_str(), kWidth, kHeight, 3, rgb.data(), 90),
                  "loader_bench: cannot write ", path);
      }
    }
    return ImageFolder::open(root.string());
  }();
  return folder;
}

// compare.py passes its thread count to both sides in AFINAR_BENCH_THREADS.
int all_cores() {
  const char* env = std::getenv("AFINAR_BENCH_THREADS");
  return env ? std::max(1, std::atoi(env)) : int(std::max(1u, std::thread::hardware_concurrency()));
}

// Drains one epoch and returns the number of images delivered.
int64_t run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  int64_t images = 0;
  while (auto batch = loader.next()) {
    benchmark::DoNotOptimize(batch->images.raw_data());
    images += batch->images.size(0);
  }
  return images;
}

void loader_epoch(benchmark::State& state, int num_workers) {
  const ImageFolder& folder = bench_folder();
  DataLoader loader(folder.size(), image_source(folder.samples(), train_transform()),
                    {.batch_size = kBatch, .shuffle = true, .num_workers = num_workers, .seed = 1});
  int64_t epoch = 0, images = 0;
  run_epoch(loader, epoch++);  // warm-up: starts the workers, touches the files
  for (auto _ : state) images += run_epoch(loader, epoch++);
  AFN_CHECK(images == folder.size() * int64_t(state.iterations()),
            "loader_bench: an epoch delivered ", images, " images over ", state.iterations(),
            " epochs of ", folder.size());
  state.SetItemsProcessed(images);
  state.counters["img/s"] = benchmark::Counter(double(images), benchmark::Counter::kIsRate);
  state.counters["workers"] = num_workers;
}

const bool registered = [] {
  for (const auto& [name, workers] :
       {std::pair{"LoaderEpoch/workers0", 0}, std::pair{"LoaderEpoch/all_cores", all_cores()}}) {
    benchmark::RegisterBenchmark(
        name, [workers](benchmark::State& state) { loader_epoch(state, workers); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace afinar::data
