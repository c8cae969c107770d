// Image decoding on one thread, the way a loader worker decodes: decode_image(path) on 8 files of
// 500x375 (an ImageNet-sized photo), written at the start of the run with stb_image_write into
// $TMPDIR/afinar-decode-bench/ (photo-like synthetic content: smooth colour fields, edges and
// sensor-like noise; JPEG quality 90 with 4:2:0 chroma, 55-60 KB each):
//   DecodeJpeg/full       TurboJPEG, full size (the default, PIL's pixels)
//   DecodeJpeg/full_stb   stb_image's JPEG decoder (JpegDecoder::Stb)
//   DecodeJpeg/half       TurboJPEG with DCT-domain scaling 1/2 (min_size = 188x250)
//   DecodeJpeg/quarter    TurboJPEG with DCT-domain scaling 1/4 (min_size = 94x125)
//   DecodePng/full        stb_image plus the chunk CRC checks (decode.cpp, check_png_chunks)
// One iteration decodes all 8 files; img/s counts images. bench/torch/decode.py times PIL's
// Image.open(path).convert("RGB") on the same files under the same names (full only):
//   build/bench/afinar_bench --benchmark_filter=Decode
//   tools/bench/compare.py --filter Decode        (runs this first: it writes the files)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/data/decode.h"

namespace afinar::data {
namespace {

constexpr int kFiles = 8, kHeight = 375, kWidth = 500;

// A deterministic photo-like image: two smooth colour fields, a few hard-edged discs and a
// per-pixel hash noise of ±12 levels, which gives a q90 JPEG the size of a real photo.
std::vector<uint8_t> photo(int seed) {
  std::vector<uint8_t> rgb(size_t(kHeight) * kWidth * 3);
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x) {
      const double fx = x / double(kWidth), fy = y / double(kHeight);
      double v[3] = {128 + 90 * std::sin(6 * fx + seed) * std::cos(4 * fy),
                     60 + 150 * fx * fy + 30 * std::sin(20 * fx * (seed + 1)),
                     200 - 140 * fy + 40 * std::cos(9 * (fx + fy))};
      for (int disc = 0; disc < 5; ++disc) {
        const double cx = 0.2 + 0.15 * disc, cy = 0.5 + 0.3 * std::sin(disc + seed);
        if ((fx - cx) * (fx - cx) + (fy - cy) * (fy - cy) < 0.004 * (disc + 1)) v[disc % 3] -= 80;
      }
      for (int c = 0; c < 3; ++c) {
        uint32_t h = uint32_t(y) * 73856093u ^ uint32_t(x) * 19349663u ^
                     (uint32_t(c) * 83492791u + uint32_t(seed));
        h = (h ^ (h >> 13)) * 0x5bd1e995u;
        const double noise = double((h >> 8) % 25) - 12;
        rgb[(size_t(y) * kWidth + x) * 3 + c] = uint8_t(std::clamp(v[c] + noise, 0.0, 255.0));
      }
    }
  return rgb;
}

// Writes the files once per run and returns their paths.
const std::vector<std::string>& bench_files(const std::string& extension) {
  static const auto files = [] {
    const auto dir = std::filesystem::temp_directory_path() / "afinar-decode-bench";
    std::filesystem::create_directories(dir);
    std::vector<std::string> jpeg, png;
    for (int i = 0; i < kFiles; ++i) {
      const std::vector<uint8_t> rgb = photo(i);
      jpeg.push_back((dir / ("photo" + std::to_string(i) + ".jpg")).string());
      png.push_back((dir / ("photo" + std::to_string(i) + ".png")).string());
      AFN_CHECK(stbi_write_jpg(jpeg.back().c_str(), kWidth, kHeight, 3, rgb.data(), 90),
                "decode_bench: cannot write ", jpeg.back());
      AFN_CHECK(stbi_write_png(png.back().c_str(), kWidth, kHeight, 3, rgb.data(), kWidth * 3),
                "decode_bench: cannot write ", png.back());
    }
    return std::pair{jpeg, png};
  }();
  return extension == "jpg" ? files.first : files.second;
}

void decode_files(benchmark::State& state, const std::string& extension,
                  const DecodeOptions& options) {
  const std::vector<std::string>& files = bench_files(extension);
  size_t bytes = 0;
  for (const std::string& f : files) bytes += std::filesystem::file_size(f);
  for (auto _ : state) {
    for (const std::string& f : files) {
      Image im = decode_image(f, options);
      benchmark::DoNotOptimize(im.data.data());
    }
  }
  state.SetItemsProcessed(int64_t(files.size()) * state.iterations());
  state.counters["img/s"] = benchmark::Counter(double(files.size()) * double(state.iterations()),
                                               benchmark::Counter::kIsRate);
  state.counters["KB/file"] = double(bytes) / double(files.size()) / 1024;
}

const bool registered = [] {
  struct Case {
    const char* name;
    const char* extension;
    DecodeOptions options;
  };
  for (const Case& c : {
           Case{"DecodeJpeg/full", "jpg", {}},
           Case{"DecodeJpeg/full_stb", "jpg", {.jpeg_decoder = JpegDecoder::Stb}},
           Case{"DecodeJpeg/half", "jpg", {.min_size = {188, 250}}},
           Case{"DecodeJpeg/quarter", "jpg", {.min_size = {94, 125}}},
           Case{"DecodePng/full", "png", {}},
       }) {
    benchmark::RegisterBenchmark(c.name, [c](benchmark::State& state) {
      decode_files(state, c.extension, c.options);
    })->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar::data
