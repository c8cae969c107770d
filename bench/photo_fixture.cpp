#include "photo_fixture.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace afinar::bench {

namespace {

// Photo-like content (smooth colour fields plus ±12 levels of hash noise) so that the JPEGs have a
// realistic size (about 55 KB at q90) and decode cost.
std::vector<uint8_t> photo(int seed) {
  std::vector<uint8_t> rgb(size_t(kPhotoHeight) * kPhotoWidth * 3);
  for (int y = 0; y < kPhotoHeight; ++y)
    for (int x = 0; x < kPhotoWidth; ++x)
      for (int c = 0; c < 3; ++c) {
        const double fx = x / double(kPhotoWidth), fy = y / double(kPhotoHeight);
        const double smooth = 128 + 100 * std::sin(5 * fx + 3 * c + seed) * std::cos(4 * fy - c);
        uint32_t h = uint32_t(y) * 73856093u ^ uint32_t(x) * 19349663u ^ uint32_t(c * 83 + seed);
        h = (h ^ (h >> 13)) * 0x5bd1e995u;
        rgb[(size_t(y) * kPhotoWidth + x) * 3 + c] =
            uint8_t(std::clamp(smooth + double((h >> 8) % 25) - 12, 0.0, 255.0));
      }
  return rgb;
}

}  // namespace

std::filesystem::path photo_dir() {
  return std::filesystem::temp_directory_path() / "afinar-cache-bench";
}

const std::vector<data::Sample>& photo_samples() {
  static const std::vector<data::Sample> samples = [] {
    std::filesystem::create_directories(photo_dir());
    std::vector<data::Sample> out;
    for (int i = 0; i < kPhotoFiles; ++i) {
      const std::string path = (photo_dir() / ("photo" + std::to_string(i) + ".jpg")).string();
      const std::vector<uint8_t> rgb = photo(i);
      AFN_CHECK(stbi_write_jpg(path.c_str(), kPhotoWidth, kPhotoHeight, 3, rgb.data(), 90),
                "bench: cannot write ", path);
      out.push_back({path, i % 4});
    }
    return out;
  }();
  return samples;
}

const std::shared_ptr<data::DecodedCache>& photo_cache() {
  static const auto cache = data::DecodedCache::build(
      photo_samples(), (photo_dir() / "cache-256").string(), kPhotoCacheOptions);
  return cache;
}

data::Compose photo_augmentation(int64_t size) {
  data::Compose c;
  c.then(data::RandomResizedCrop(size))
      .then(data::RandomHorizontalFlip())
      .then(data::Normalize(data::kImageNetMean, data::kImageNetStd));
  return c;
}

}  // namespace afinar::bench
