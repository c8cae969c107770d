// DataLoader internals. Workers take batch numbers in order from a shared counter, at most
// num_workers * prefetch_factor ahead of the batch being delivered, and park finished batches in
// a map keyed by batch number; next() hands them out in order. start_epoch bumps a generation
// counter so batches of an abandoned epoch are dropped when they finish.
//
// GPU delivery: batches are stacked straight into pinned host memory, and next() keeps one batch
// ahead on the device: when it returns batch b, the copy of batch b+1 (if a worker has finished
// it) is already queued on the copy stream, so it runs while the caller computes on batch b.
#include "afinar/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>
#include <unordered_set>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/philox.h"
#include "afinar/data/dataset.h"

namespace afinar::data {

namespace {

// Philox streams keyed by the loader's seed; the last counter word keeps them apart.
constexpr uint32_t kShuffleStream = 0x53485546;  // "SHUF"
constexpr uint32_t kSampleStream = 0x53414D50;   // "SAMP"

uint64_t philox64(uint64_t seed, uint64_t a, uint64_t epoch, uint32_t stream) {
  const Philox4 r = philox4x32_10(uint32_t(a), uint32_t(a >> 32), uint32_t(epoch), stream, seed);
  return uint64_t(r.w[0]) | uint64_t(r.w[1]) << 32;
}

}  // namespace

std::vector<int64_t> DataLoader::epoch_order(int64_t size, bool shuffle, uint64_t seed,
                                             int64_t epoch) {
  if (!shuffle) {
    std::vector<int64_t> order(static_cast<size_t>(size));
    std::iota(order.begin(), order.end(), int64_t(0));
    return order;
  }
  // Each epoch's permutation has a generator of its own, keyed by (seed, epoch).
  Generator gen(philox64(seed, 0, uint64_t(epoch), kShuffleStream));
  return random_permutation(size, gen);
}

uint64_t DataLoader::sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return philox64(seed, uint64_t(index), uint64_t(epoch), kSampleStream);
}

struct DataLoader::State {
  std::mutex mu;
  std::condition_variable work_cv;  // workers wait for a batch to build
  std::condition_variable done_cv;  // next() waits for the batch it delivers
  std::vector<std::thread> workers;
  bool stopping = false;

  uint64_t generation = 0;  // bumped by start_epoch
  int64_t epoch = -1;
  std::vector<int64_t> order;
  int64_t num_batches = 0;
  int64_t next_to_build = 0;
  int64_t next_to_deliver = 0;
  std::map<int64_t, Batch> ready;
  std::exception_ptr failure;  // a fatal error from a worker, rethrown by next()

  std::unordered_set<int64_t> bad;  // indices that failed to load, in any epoch
  int64_t max_bad = 0;
  LoaderStats stats;

  std::optional<Batch> on_device;  // the batch after the last one delivered, copy in flight
  MemoryKind host_memory = MemoryKind::Default;  // Pinned when batches go to a GPU

  // Loads the samples `indices` of epoch `epoch` (skipping bad ones) and stacks them. Called
  // without the lock held.
  Batch build_batch(const ExampleFn& source, uint64_t seed, int64_t epoch,
                    std::vector<int64_t> indices);
};

DataLoader::DataLoader(int64_t size, ExampleFn source, LoaderOptions options)
    : size_(size),
      source_(std::move(source)),
      options_(options),
      state_(std::make_unique<State>()) {
  AFN_CHECK(size >= 0, "DataLoader: dataset size must be >= 0, got ", size);
  AFN_CHECK(source_, "DataLoader: no sample source given");
  AFN_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ",
            options_.batch_size);
  AFN_CHECK(options_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ",
            options_.num_workers);
  AFN_CHECK(options_.prefetch_factor >= 1, "DataLoader: prefetch_factor must be >= 1, got ",
            options_.prefetch_factor);
  check_device_available(options_.device);
  if (options_.device.is_cuda()) state_->host_memory = MemoryKind::Pinned;
  state_->max_bad =
      options_.max_bad_samples >= 0 ? options_.max_bad_samples : std::max<int64_t>(10, size / 100);
}

DataLoader::~DataLoader() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->work_cv.notify_all();
  for (auto& t : state_->workers) t.join();
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t bs = options_.batch_size;
  return options_.drop_last ? size_ / bs : (size_ + bs - 1) / bs;
}

const LoaderStats& DataLoader::stats() const {
  return state_->stats;
}

namespace {

// Stacks examples into [B,C,H,W] float32 and [B] int64 on the cpu, in `memory`.
Batch collate(std::vector<Example>& examples, std::vector<int64_t>& indices, MemoryKind memory) {
  Batch batch;
  batch.indices = std::move(indices);
  const int64_t B = int64_t(examples.size());
  if (B == 0) return batch;
  const Shape& shape = examples[0].image.shape();
  Shape batch_shape{B};
  batch_shape.insert(batch_shape.end(), shape.begin(), shape.end());
  batch.images = empty(batch_shape, DType::F32, kCPU, memory);
  batch.labels = empty({B}, DType::I64, kCPU, memory);
  const int64_t per = numel_of(shape);
  float* dst = batch.images.data<float>();
  int64_t* labels = batch.labels.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const Tensor& img = examples[size_t(b)].image;
    AFN_CHECK(img.shape() == shape, "DataLoader: sample ", batch.indices[size_t(b)], " has shape ",
              img.shape(), " but sample ", batch.indices[0], " of the same batch has ", shape,
              "; resize/crop every image to one size before batching");
    AFN_CHECK(img.dtype() == DType::F32 && img.device().is_cpu(), "DataLoader: sample ",
              batch.indices[size_t(b)], " must be a float32 cpu tensor, got ", img.dtype(), " on ",
              img.device());
    const Tensor c = img.contiguous();
    std::memcpy(dst + b * per, c.data<float>(), size_t(per) * sizeof(float));
    labels[b] = examples[size_t(b)].label;
  }
  return batch;
}

}  // namespace

Batch DataLoader::State::build_batch(const ExampleFn& source, uint64_t seed, int64_t epoch,
                                     std::vector<int64_t> indices) {
  NoGradGuard no_grad;  // loading never records autograd history
  std::vector<Example> examples;
  std::vector<int64_t> kept;
  for (int64_t i : indices) {
    {
      std::lock_guard lock(mu);
      if (bad.count(i)) {
        ++stats.skipped;
        continue;
      }
    }
    try {
      Generator gen(DataLoader::sample_seed(seed, epoch, i));
      examples.push_back(source(i, gen));
      kept.push_back(i);
    } catch (const Error& e) {
      std::lock_guard lock(mu);
      ++stats.skipped;
      if (bad.insert(i).second) {
        std::string reason = "sample " + std::to_string(i) + ": " + error_summary(e);
        std::fprintf(stderr, "afinar: skipping %s\n", reason.c_str());
        stats.reasons.push_back(std::move(reason));
      }
      AFN_CHECK(int64_t(bad.size()) <= max_bad, "DataLoader: ", bad.size(),
                " samples failed to load (more than max_bad_samples = ", max_bad,
                "); the first: ", stats.reasons.front());
    }
  }
  return collate(examples, kept, host_memory);
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  AFN_CHECK(epoch >= 0, "DataLoader: epoch must be >= 0, got ", epoch);
  AFN_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(), "DataLoader: first_batch ",
            first_batch, " is outside the epoch's ", batches_per_epoch(), " batches");
  State& st = *state_;
  {
    std::lock_guard lock(st.mu);
    ++st.generation;
    st.epoch = epoch;
    st.order = epoch_order(size_, options_.shuffle, options_.seed, epoch);
    st.num_batches = batches_per_epoch();
    st.next_to_build = st.next_to_deliver = first_batch;
    st.ready.clear();
    st.failure = nullptr;
    st.stats.samples = st.stats.skipped = 0;
    st.on_device.reset();
  }
  if (options_.num_workers > 0 && st.workers.empty()) {
    for (int w = 0; w < options_.num_workers; ++w) {
      st.workers.emplace_back([this] {
        State& s = *state_;
        const int64_t in_flight = int64_t(options_.num_workers) * options_.prefetch_factor;
        std::unique_lock lock(s.mu);
        for (;;) {
          s.work_cv.wait(lock, [&] {
            return s.stopping || (s.next_to_build < s.num_batches &&
                                  s.next_to_build < s.next_to_deliver + in_flight);
          });
          if (s.stopping) return;
          const int64_t b = s.next_to_build++;
          const uint64_t generation = s.generation;
          const int64_t epoch_now = s.epoch;
          const int64_t bs = options_.batch_size;
          std::vector<int64_t> indices(s.order.begin() + b * bs,
                                       s.order.begin() + std::min<int64_t>((b + 1) * bs, size_));
          lock.unlock();
          Batch batch;
          std::exception_ptr error;
          try {
            batch = s.build_batch(source_, options_.seed, epoch_now, std::move(indices));
          } catch (...) {
            error = std::current_exception();
          }
          lock.lock();
          if (generation != s.generation) continue;  // the epoch was restarted meanwhile
          if (error && !s.failure) s.failure = error;
          s.ready.emplace(b, std::move(batch));
          s.done_cv.notify_all();
        }
      });
    }
  }
  st.work_cv.notify_all();
}

std::optional<Batch> DataLoader::next_on_host(bool wait) {
  State& st = *state_;
  AFN_CHECK(st.epoch >= 0, "DataLoader: call start_epoch(epoch) before next()");
  for (;;) {
    Batch batch;
    int64_t b = 0;
    {
      std::unique_lock lock(st.mu);
      if (st.next_to_deliver >= st.num_batches) return std::nullopt;
      b = st.next_to_deliver;
      if (options_.num_workers == 0) {
        if (!wait) return std::nullopt;  // nothing is built ahead without workers
        const int64_t bs = options_.batch_size;
        std::vector<int64_t> indices(st.order.begin() + b * bs,
                                     st.order.begin() + std::min<int64_t>((b + 1) * bs, size_));
        const int64_t epoch = st.epoch;
        lock.unlock();
        batch = st.build_batch(source_, options_.seed, epoch, std::move(indices));
        lock.lock();
      } else {
        if (!wait && !st.failure && !st.ready.count(b)) return std::nullopt;
        st.done_cv.wait(lock, [&] { return st.failure || st.ready.count(b); });
        if (st.failure) std::rethrow_exception(st.failure);
        batch = std::move(st.ready.at(b));
        st.ready.erase(b);
      }
      ++st.next_to_deliver;
    }
    st.work_cv.notify_all();
    if (batch.indices.empty()) continue;  // every sample of this batch was bad
    batch.number = b;
    return batch;
  }
}

std::optional<Batch> DataLoader::next() {
  State& st = *state_;
  std::optional<Batch> batch = std::move(st.on_device);
  st.on_device.reset();
  if (!batch) {
    batch = next_on_host(/*wait=*/true);
    if (batch && !options_.device.is_cpu()) send_to_device(*batch);
  }
  if (!batch) return std::nullopt;
  // Queue the next batch's copy now if a worker has it ready; never wait for it here.
  if (!options_.device.is_cpu()) {
    st.on_device = next_on_host(/*wait=*/false);
    if (st.on_device) send_to_device(*st.on_device);
  }
  {
    std::lock_guard lock(st.mu);
    st.stats.samples += int64_t(batch->indices.size());
  }
  return batch;
}

void DataLoader::send_to_device(Batch& batch) const {
  batch.images = batch.images.to(options_.device, /*non_blocking=*/true);
  batch.labels = batch.labels.to(options_.device, /*non_blocking=*/true);
}

}  // namespace afinar::data
