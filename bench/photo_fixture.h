// What the data benchmarks share (decoded_cache_bench.cpp, train_step_bench.cpp's loader rows):
// 16 photo-like JPEGs of 500x375 (an ImageNet-sized photo, q90), written once per run into
// $TMPDIR/afinar-cache-bench/, a decoded cache of them at resize 256, and the training
// augmentation of the seeds.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "afinar/data/decoded_cache.h"
#include "afinar/data/transforms.h"

namespace afinar::bench {

constexpr int kPhotoFiles = 16, kPhotoHeight = 375, kPhotoWidth = 500;
// How photo_cache() is built: shorter side 256, one decoding thread.
inline const data::CacheOptions kPhotoCacheOptions{.resize = 256, .num_threads = 1};

// $TMPDIR/afinar-cache-bench: the JPEGs, the cache, anything a benchmark writes beside them.
std::filesystem::path photo_dir();

// The JPEGs as samples (label i % 4).
const std::vector<data::Sample>& photo_samples();
// DecodedCache::build of photo_samples() at resize 256 on one thread, once per run.
const std::shared_ptr<data::DecodedCache>& photo_cache();
// RandomResizedCrop(size) -> RandomHorizontalFlip -> Normalize(ImageNet).
data::Compose photo_augmentation(int64_t size = 224);

}  // namespace afinar::bench
