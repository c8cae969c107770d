// DataLoader: batches of (images, labels) from any indexable source, with worker threads, a
// bounded prefetch queue, a seeded per-epoch shuffle and augmentation that is reproducible
// whatever the number of workers.
//
// The source is a function (index, generator) -> Example. The generator it receives is seeded
// from (seed, epoch, index) alone, so sample i of epoch e gets the same random crop, flip and
// colour jitter on 0, 1 or 16 workers, and batch b always holds the same samples: workers only
// change how fast batches arrive, never what they contain.
//
//   DataLoader loader(folder.size(), [&](int64_t i, Generator& g) { return load(i, g); },
//                     {.batch_size = 64, .shuffle = true, .num_workers = 4, .seed = 1});
//   for (int64_t epoch = 0; epoch < 20; ++epoch) {
//     loader.start_epoch(epoch);
//     while (auto batch = loader.next()) train_step(batch->images, batch->labels);
//   }
//
// Bad samples: a source that throws afinar::Error for a sample (a corrupt or truncated image) has
// that sample reported once on stderr (its message names the file and the reason), skipped (the
// batch is one sample smaller), counted in stats(), and not tried again in later epochs. More
// than LoaderOptions::max_bad_samples of them is an error: a dataset that mostly fails to load is
// a mistake to stop on, not to train through.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "afinar/core/tensor.h"

namespace afinar::data {

struct Example {
  Tensor image;  // float32 [C,H,W] (every example of a batch has the same shape)
  int64_t label = 0;
};

// Produces sample `index` drawing any randomness from `gen`. Called from worker threads, so it
// must be safe to call concurrently for different indices.
using ExampleFn = std::function<Example(int64_t index, Generator& gen)>;

struct LoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;
  int num_workers = 0;           // 0: load on the calling thread, as PyTorch
  int prefetch_factor = 2;       // batches in flight per worker, as PyTorch
  uint64_t seed = 0;             // shuffle order and per-sample augmentation
  Device device = kCPU;          // where batches are delivered (cuda: pinned + async copies)
  int64_t max_bad_samples = -1;  // -1: max(10, 1% of the dataset)
};

struct Batch {
  Tensor images;                 // float32 [B,C,H,W] on LoaderOptions::device
  Tensor labels;                 // int64 [B]
  std::vector<int64_t> indices;  // dataset index of each row
  // The batch's place in the epoch's order (0-based). A batch whose samples all failed to load
  // is skipped, so numbers can jump: where an interrupted epoch resumes is the number of the
  // first batch not trained, not a count of the batches trained.
  int64_t number = 0;
};

struct LoaderStats {
  int64_t samples = 0;               // delivered this epoch
  int64_t skipped = 0;               // bad samples skipped this epoch
  std::vector<std::string> reasons;  // one line per bad sample seen for the first time
};

class DataLoader {
 public:
  DataLoader(int64_t size, ExampleFn source, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Fixes the epoch's order (a seeded permutation when shuffling) and starts the workers. The
  // epoch starts at batch `first_batch` (resuming mid-epoch): the batches before it are skipped
  // without being loaded, and the ones after hold what they would hold from batch 0.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch in order, or nothing at the end of the epoch.
  std::optional<Batch> next();

  int64_t size() const { return size_; }
  int64_t batches_per_epoch() const;
  const LoaderStats& stats() const;

  // The permutation of epoch `epoch` for `seed` (identity without shuffle): exposed for tests
  // and for resuming mid-epoch from a checkpoint.
  static std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch);
  // The seed of sample `index`'s generator in epoch `epoch`.
  static uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

 private:
  // The next non-empty batch on the cpu, in order; with wait=false only if already built.
  std::optional<Batch> next_on_host(bool wait);
  // Queues the batch's copies to options_.device (asynchronous from pinned memory).
  void send_to_device(Batch& batch) const;

  struct State;
  int64_t size_;
  ExampleFn source_;
  LoaderOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace afinar::data
