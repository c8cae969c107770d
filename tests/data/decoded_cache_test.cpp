// DecodedCache: build once, reopen through mmap, exact parity with decode + Resize, bad images,
// truncated / corrupt / stale files, and the loader source against image_source.
#include "afinar/data/decoded_cache.h"

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>

#include "afinar/data/decode.h"
#include "afinar/data/image_source.h"
#include "testing/temp_dir.h"

namespace afinar::data {
namespace {

namespace fs = std::filesystem;

// A small image whose pixels depend on position, channel and seed (so a resize has work to do).
std::vector<uint8_t> pattern(int h, int w, int c, int seed) {
  std::vector<uint8_t> px(size_t(h * w * c));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k)
        px[size_t((y * w + x) * c + k)] = uint8_t((x * 37 + y * 11 + k * 71 + seed * 13) ^ (x * y));
  return px;
}

// A folder of images of different sizes, formats and channel counts, plus one broken file.
std::vector<Sample> make_samples(const testing::TempDir& dir) {
  struct Spec {
    const char* name;
    int h, w, c;
    int64_t label;
  };
  std::vector<Sample> samples;
  int seed = 0;
  for (const Spec& s :
       {Spec{"a.png", 30, 40, 3, 0}, Spec{"b.png", 50, 17, 3, 1}, Spec{"c.jpg", 33, 33, 3, 1},
        Spec{"d.png", 21, 26, 1, 2}, Spec{"e.jpg", 18, 64, 3, 0}, Spec{"f.png", 24, 24, 4, 2}}) {
    const std::string path = dir / s.name;
    const std::vector<uint8_t> px = pattern(s.h, s.w, s.c, seed++);
    const bool jpg = path.ends_with(".jpg");
    EXPECT_TRUE(jpg ? stbi_write_jpg(path.c_str(), s.w, s.h, s.c, px.data(), 90)
                    : stbi_write_png(path.c_str(), s.w, s.h, s.c, px.data(), s.w * s.c));
    samples.push_back({path, s.label});
  }
  std::ofstream(dir / "broken.png") << "not a png";
  samples.insert(samples.begin() + 3, Sample{dir / "broken.png", 1});
  return samples;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// The message of the Error `fn` throws ("" when it throws none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DecodedCache, ImagesEqualResizeOfDecode) {
  testing::TempDir dir;
  const std::vector<Sample> samples = make_samples(dir);
  for (int64_t size : {0, 24}) {
    const CacheOptions options{.resize = size, .num_threads = 3};
    const std::string path = dir / ("cache" + std::to_string(size));
    DecodedCache::build(samples, path, options);
    const auto cache = DecodedCache::open(path, samples, options);  // a fresh mapping
    ASSERT_EQ(cache->size(), int64_t(samples.size()));
    EXPECT_EQ(cache->resize(), size);
    EXPECT_EQ(cache->bad_count(), 1);
    for (int64_t i = 0; i < cache->size(); ++i) {
      const Sample& s = samples[size_t(i)];
      EXPECT_EQ(cache->label(i), s.label);
      EXPECT_EQ(cache->original_path(i), s.path);
      if (cache->is_bad(i)) continue;
      const Image decoded = decode_image(s.path);
      const Image want = size > 0 ? resize(decoded, size) : decoded;
      const Image got = cache->image(i);
      EXPECT_EQ(got.height, want.height) << s.path;
      EXPECT_EQ(got.width, want.width) << s.path;
      EXPECT_EQ(got.channels, 3);
      EXPECT_EQ(got.data, want.data) << s.path;
      EXPECT_EQ((cache->image_size(i)), (ImageSize{want.height, want.width}));
      if (size > 0) {
        EXPECT_EQ(std::min(got.height, got.width), size);
      }
    }
  }
  // Only the finished files remain: the temporary names were renamed away.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path()))
    files += e.path().filename().string().starts_with("cache");
  EXPECT_EQ(files, 2);
}

TEST(DecodedCache, BadImageIsRecordedAndNamed) {
  testing::TempDir dir;
  const std::vector<Sample> samples = make_samples(dir);
  const auto cache = DecodedCache::build(samples, dir / "cache", {.resize = 16});
  ASSERT_TRUE(cache->is_bad(3));
  EXPECT_FALSE(cache->is_bad(2));
  EXPECT_NE(cache->bad_reason(3).find("broken.png"), std::string::npos);  // the decoder's message
  EXPECT_EQ(cache->bad_reason(2), "");
  const std::string msg = error_of([&] { cache->image(3); });
  EXPECT_NE(msg.find(dir / "broken.png"), std::string::npos) << msg;
  EXPECT_THROW(cache->pixels(3), Error);
  EXPECT_THROW(cache->image(-1), Error);
  EXPECT_THROW(cache->label(cache->size()), Error);

  Compose to_tensor;
  Generator gen(0);
  const ExampleFn source = cached_source(cache, to_tensor);
  const std::string src_msg = error_of([&] { source(3, gen); });
  EXPECT_NE(src_msg.find(dir / "broken.png"), std::string::npos) << src_msg;
  EXPECT_THROW(source(int64_t(samples.size()), gen), Error);
}

TEST(DecodedCache, BuildFailureLeavesNoFile) {
  testing::TempDir dir;
  const std::vector<Sample> samples = make_samples(dir);
  EXPECT_THROW(DecodedCache::build(samples, dir / "missing/cache"), Error);
  EXPECT_FALSE(fs::exists(dir / "missing"));
  EXPECT_THROW(DecodedCache::open(dir / "nothing", samples), Error);
}

TEST(DecodedCache, TruncatedOrCorruptFileIsAnError) {
  testing::TempDir dir;
  const std::vector<Sample> samples = make_samples(dir);
  const CacheOptions options{.resize = 12};
  const std::string path = dir / "cache";
  DecodedCache::build(samples, path, options);
  const std::vector<uint8_t> good = read_bytes(path);
  const auto reopen = [&](const std::vector<uint8_t>& bytes) {
    write_bytes(path, bytes);
    return error_of([&] { DecodedCache::open(path, samples, options); });
  };
  ASSERT_EQ(reopen(good), "");

  for (size_t keep :
       {size_t(0), size_t(10), size_t(95), size_t(96), good.size() / 2, good.size() - 1}) {
    const std::string msg = reopen({good.begin(), good.begin() + std::ptrdiff_t(keep)});
    EXPECT_NE(msg.find("rebuild"), std::string::npos) << "kept " << keep << " bytes: " << msg;
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_NE(reopen(longer), "");

  // Every byte of the index is checked: the header and entries at the start, the text (the paths
  // and the bad image's message, far more than 64 bytes) at the end. Only the pixels are not.
  std::vector<size_t> positions;
  for (size_t at = 0; at < 96 + samples.size() * 56; ++at) positions.push_back(at);
  for (size_t at = good.size() - 64; at < good.size(); ++at) positions.push_back(at);
  for (size_t at : positions) {
    std::vector<uint8_t> bad = good;
    bad[at] ^= 0x40;
    const std::string msg = reopen(bad);
    ASSERT_NE(msg, "") << "a flipped byte at " << at << " went unnoticed";
    EXPECT_NE(msg.find("rebuild"), std::string::npos) << msg;
  }
}

TEST(DecodedCache, StaleCacheIsRefused) {
  testing::TempDir dir;
  const std::vector<Sample> samples = make_samples(dir);
  const std::string path = dir / "cache";
  DecodedCache::build(samples, path, {.resize = 20});
  EXPECT_NO_THROW(DecodedCache::open(path, samples, {.resize = 20}));

  std::vector<Sample> relabelled = samples, renamed = samples, fewer = samples;
  relabelled[1].label = 2;
  renamed[0].path = dir / "z.png";
  fewer.pop_back();
  const auto stale = [&](const std::vector<Sample>& s, CacheOptions o) {
    const std::string msg = error_of([&] { DecodedCache::open(path, s, o); });
    EXPECT_NE(msg.find("stale"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rebuild"), std::string::npos) << msg;
  };
  stale(relabelled, {.resize = 20});
  stale(renamed, {.resize = 20});
  stale(fewer, {.resize = 20});
  stale(samples, {.resize = 21});
  stale(samples, {.resize = 20, .interpolation = Interpolation::Bicubic});
  // open_or_build does not paper over a stale file either; it builds only a missing one.
  EXPECT_THROW(DecodedCache::open_or_build(fewer, path, {.resize = 20}), Error);
  EXPECT_EQ(DecodedCache::open_or_build(fewer, dir / "new", {.resize = 20})->size(),
            int64_t(fewer.size()));
  EXPECT_TRUE(fs::exists(dir / "new"));
}

// Resize(20) folded into the cache: the rest of the pipeline on the cached images gives the very
// batches image_source gives with the whole pipeline, bad sample included.
TEST(DecodedCache, CachedSourceMatchesImageSourceThroughTheLoader) {
  testing::TempDir dir;
  const std::vector<Sample> samples = make_samples(dir);
  const auto rest = [](Compose c) {
    c.then(RandomResizedCrop(12, {.scale = {0.3, 1.0}}))
        .then(RandomHorizontalFlip())
        .then(Normalize(kImageNetMean, kImageNetStd));
    return c;
  };
  Compose full;
  full.then(Resize(20));
  const auto cache = DecodedCache::build(samples, dir / "cache", {.resize = 20, .num_threads = 2});
  const LoaderOptions opt{.batch_size = 3, .shuffle = true, .num_workers = 2, .seed = 7};
  DataLoader uncached(int64_t(samples.size()), image_source(samples, rest(full)), opt);
  DataLoader cached(cache->size(), cached_source(cache, rest(Compose())), opt);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    uncached.start_epoch(epoch);
    cached.start_epoch(epoch);
    int64_t batches = 0;
    while (auto want = uncached.next()) {
      auto got = cached.next();
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->indices, want->indices);
      EXPECT_EQ(got->labels.to_vector<int64_t>(), want->labels.to_vector<int64_t>());
      EXPECT_EQ(got->images.shape(), want->images.shape());
      EXPECT_EQ(got->images.to_vector<float>(), want->images.to_vector<float>());
      ++batches;
    }
    EXPECT_FALSE(cached.next().has_value());
    EXPECT_GT(batches, 0);
    EXPECT_EQ(cached.stats().skipped, 1);
  }
  ASSERT_EQ(cached.stats().reasons.size(), 1u);
  EXPECT_NE(cached.stats().reasons[0].find("broken.png"), std::string::npos);
}

}  // namespace
}  // namespace afinar::data
