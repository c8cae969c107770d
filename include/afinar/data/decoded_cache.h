// A decoded-image cache for datasets that fit on disk: every image is decoded and resized once
// into one file of raw RGB bytes, which later epochs memory-map instead of decoding JPEGs again.
//
//   const auto& samples = splits.train;
//   auto cache = DecodedCache::open_or_build(samples, "train-256.afc", {.resize = 256});
//   Compose aug;                                              // the steps after Resize(256)
//   aug.then(RandomResizedCrop(224)).then(RandomHorizontalFlip()).then(Normalize(...));
//   DataLoader loader(cache->size(), cached_source(cache, aug), {.batch_size = 64, ...});
//
// What is cached is decode_image(path) (full size, PIL's pixels) followed by
// resize(image, options.resize, options.interpolation), i.e. torchvision's Resize(int): the
// shorter side becomes `resize`, the longer int(resize · long / short). A pipeline whose first
// step is that Resize gives exactly the same tensors from cached_source(cache, rest) as from
// image_source(samples, Resize + rest). Dropping the Resize (or using a smaller one than the
// original images) changes what a random crop sees, as with any pre-resized dataset.
//
// File layout (little-endian; all offsets in bytes from the start of the file):
//   header   kHeaderBytes: magic "AFNDCACH", version, entry size, count, the sample hash, resize,
//            interpolation, the offsets and sizes of the pixel and text regions, the file size and
//            a hash of the entries and text (catches a corrupt index)
//   entries  count × Entry: height, width, channels, label, pixel offset, text offset, path
//            length, reason length (reason length > 0 marks an image that could not be decoded;
//            it has no pixels)
//   pixels   the images' H·W·C bytes back to back in sample order, from a 64-byte aligned offset
//   text     each sample's original path, then for a bad image the decoder's message
// The file is written under a temporary name and renamed when complete, so a crash never leaves
// a partial cache under the real name.
//
// Staleness: the header stores a hash of (paths, labels, resize, interpolation); open() refuses a
// cache built for another sample list or resize setting and says to rebuild it.
// open() checks the header against the file (magic, version, sizes, every entry's bytes inside
// its region, the index hash): a truncated or corrupt cache is an afinar::Error, never a read
// outside the mapping. The pixels themselves carry no checksum (it would cost a full read).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "afinar/data/dataset.h"
#include "afinar/data/image.h"
#include "afinar/data/loader.h"
#include "afinar/data/transforms.h"

namespace afinar::data {

struct CacheOptions {
  int64_t resize = 256;  // shorter side (Resize(int)); 0 stores the decoded size
  Interpolation interpolation = Interpolation::Bilinear;
  int num_threads = 0;  // decoding threads for build(); 0: std::thread::hardware_concurrency()
};

class DecodedCache {
 public:
  // Decodes and resizes every sample and writes the cache to `path` (replacing any file there),
  // then opens it. Images that cannot be decoded are recorded as bad with the decoder's message;
  // I/O errors (cannot write, disk full) throw and leave no file at `path`.
  static std::shared_ptr<DecodedCache> build(const std::vector<Sample>& samples,
                                             const std::string& path,
                                             const CacheOptions& options = {});
  // Maps the cache at `path` read-only. Throws afinar::Error naming the file when it is missing,
  // not a cache, of another version, truncated or corrupt, or stale: built for other samples
  // (paths or labels) or another resize / interpolation than `samples` and `options`.
  static std::shared_ptr<DecodedCache> open(const std::string& path,
                                            const std::vector<Sample>& samples,
                                            const CacheOptions& options = {});
  // open() when `path` exists, else build(). A stale or corrupt file is still an error.
  static std::shared_ptr<DecodedCache> open_or_build(const std::vector<Sample>& samples,
                                                     const std::string& path,
                                                     const CacheOptions& options = {});

  ~DecodedCache();
  DecodedCache(const DecodedCache&) = delete;
  DecodedCache& operator=(const DecodedCache&) = delete;

  const std::string& path() const { return path_; }
  int64_t size() const { return count_; }
  int64_t resize() const { return resize_; }
  int64_t bad_count() const { return bad_count_; }

  // All bounds-checked; image() and pixels() throw for a bad sample, naming its original path and
  // the decoder's message.
  bool is_bad(int64_t i) const;
  int64_t label(int64_t i) const;
  std::string_view original_path(int64_t i) const;
  std::string_view bad_reason(int64_t i) const;  // "" for a good image
  ImageSize image_size(int64_t i) const;
  std::span<const uint8_t> pixels(int64_t i) const;  // a view into the mapping, H·W·C bytes
  Image image(int64_t i) const;                      // a copy of pixels(i)

 private:
  struct Entry;
  DecodedCache() = default;

  const Entry& entry(int64_t i) const;
  const Entry& good_entry(int64_t i) const;

  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const Entry* entries_ = nullptr;
  const char* text_ = nullptr;  // the text region: paths and reasons
  int64_t count_ = 0;
  int64_t resize_ = 0;
  int64_t bad_count_ = 0;
};

// The cache as a DataLoader source: sample i is cache->image(i) run through `transform` (the
// steps that follow the cached Resize) with the sample's generator, and its label. A bad sample
// throws afinar::Error naming its original path, which the loader reports once and skips.
ExampleFn cached_source(std::shared_ptr<const DecodedCache> cache, Compose transform);

}  // namespace afinar::data
