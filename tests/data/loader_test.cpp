#include "afinar/data/loader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "testing/cuda.h"

namespace afinar::data {
namespace {

// A source whose image holds its index and a few draws from the sample's generator, so a batch
// reveals which samples it holds and which random stream each got.
Example noisy_sample(int64_t i, Generator& gen) {
  Tensor img = uniform({1, 2, 3}, 0, 1, DType::F32, gen);
  img.data<float>()[0] = float(i);
  return {img, i % 7};
}

std::vector<std::vector<float>> epoch_contents(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<std::vector<float>> out;
  while (auto b = loader.next()) out.push_back(b->images.to_vector<float>());
  return out;
}

TEST(DataLoader, BatchesInOrderWithoutShuffle) {
  DataLoader loader(10, noisy_sample, {.batch_size = 4});
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  loader.start_epoch(0);
  std::vector<int64_t> seen, sizes;
  while (auto b = loader.next()) {
    EXPECT_EQ(b->images.shape()[1], 1);
    EXPECT_EQ(b->labels.dtype(), DType::I64);
    sizes.push_back(b->images.size(0));
    for (int64_t i : b->indices) seen.push_back(i);
    for (int64_t r = 0; r < b->images.size(0); ++r)
      EXPECT_EQ(b->labels.to_vector<int64_t>()[size_t(r)], b->indices[size_t(r)] % 7);
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_FALSE(loader.next().has_value());
  EXPECT_EQ(loader.stats().samples, 10);
}

TEST(DataLoader, DropLastDropsTheShortBatch) {
  DataLoader loader(10, noisy_sample, {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(loader.batches_per_epoch(), 2);
  EXPECT_EQ(epoch_contents(loader, 0).size(), 2u);
}

TEST(DataLoader, ShuffleIsASeededPermutationPerEpoch) {
  const auto e0 = DataLoader::epoch_order(1000, true, 5, 0);
  const auto e1 = DataLoader::epoch_order(1000, true, 5, 1);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[size_t(i)], i);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(e0, DataLoader::epoch_order(1000, true, 5, 0));
  EXPECT_NE(e0, DataLoader::epoch_order(1000, true, 6, 0));
  // Every element has a fair chance of every position: over 2000 seeds, how often element 0 lands
  // first is Binomial(2000, 1/10); 5 sigma is 67 around 200.
  int first = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed)
    first += DataLoader::epoch_order(10, true, seed, 0)[0] == 0;
  EXPECT_NEAR(first, 200, 67);
}

TEST(DataLoader, SameBatchesWhateverTheWorkerCount) {
  LoaderOptions opt{.batch_size = 5, .shuffle = true, .seed = 42};
  DataLoader serial(23, noisy_sample, opt);
  const auto ref0 = epoch_contents(serial, 0), ref1 = epoch_contents(serial, 1);
  EXPECT_NE(ref0, ref1);  // a new order and new augmentation each epoch
  for (int workers : {1, 3, 8}) {
    opt.num_workers = workers;
    DataLoader parallel(23, noisy_sample, opt);
    EXPECT_EQ(epoch_contents(parallel, 0), ref0) << workers << " workers";
    EXPECT_EQ(epoch_contents(parallel, 1), ref1) << workers << " workers";
  }
}

TEST(DataLoader, PrefetchStaysBounded) {
  std::atomic<int64_t> loaded{0};
  const LoaderOptions opt{.batch_size = 2, .num_workers = 2, .prefetch_factor = 2};
  DataLoader loader(
      100,
      [&](int64_t i, Generator& g) {
        ++loaded;
        return noisy_sample(i, g);
      },
      opt);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Delivered 1 batch; at most workers * prefetch_factor = 4 more may be built: 10 samples.
  EXPECT_LE(loaded.load(), 10);
  int64_t n = 1;
  while (loader.next()) ++n;
  EXPECT_EQ(n, 50);
}

TEST(DataLoader, BadSamplesAreReportedOnceAndSkipped) {
  auto source = [](int64_t i, Generator& g) {
    AFN_CHECK(i % 5 != 3, "decode_image: /data/img", i, ".jpg: truncated file");
    return noisy_sample(i, g);
  };
  for (int workers : {0, 2}) {
    DataLoader loader(20, source, {.batch_size = 4, .num_workers = workers});
    loader.start_epoch(0);
    std::set<int64_t> seen;
    while (auto b = loader.next())
      for (int64_t i : b->indices) seen.insert(i);
    EXPECT_EQ(seen.size(), 16u);
    EXPECT_FALSE(seen.count(3) || seen.count(8) || seen.count(13) || seen.count(18));
    EXPECT_EQ(loader.stats().skipped, 4);
    ASSERT_EQ(loader.stats().reasons.size(), 4u);
    EXPECT_NE(loader.stats().reasons[0].find("truncated file"), std::string::npos);
    epoch_contents(loader, 1);  // known-bad samples are skipped again but not reported again
    EXPECT_EQ(loader.stats().skipped, 4);
    EXPECT_EQ(loader.stats().reasons.size(), 4u);
  }
}

TEST(DataLoader, TooManyBadSamplesIsAnError) {
  auto broken = [](int64_t i, Generator&) -> Example { AFN_FAIL("cannot read sample ", i); };
  for (int workers : {0, 2}) {
    DataLoader loader(50, broken, {.batch_size = 4, .num_workers = workers, .max_bad_samples = 3});
    loader.start_epoch(0);
    EXPECT_THROW(while (loader.next()){}, Error);
  }
}

TEST(DataLoader, MismatchedImageSizesAreAClearError) {
  auto source = [](int64_t i, Generator&) { return Example{zeros({3, 8, i == 2 ? 9 : 8}), 0}; };
  DataLoader loader(4, source, {.batch_size = 4});
  loader.start_epoch(0);
  try {
    loader.next();
    FAIL() << "a batch of images of different sizes must not be stacked";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample 2 has shape [3, 8, 9]"), std::string::npos)
        << e.what();
  }
}

TEST(DataLoader, RejectsBadOptions) {
  EXPECT_THROW(DataLoader(10, noisy_sample, {.batch_size = 0}), Error);
  EXPECT_THROW(DataLoader(10, noisy_sample, {.num_workers = -1}), Error);
  EXPECT_THROW(DataLoader(10, ExampleFn(), {}), Error);
  DataLoader loader(10, noisy_sample, {});
  EXPECT_THROW(loader.next(), Error);  // no epoch started
}

TEST(DataLoader, RestartingAnEpochMidwayStartsClean) {
  DataLoader loader(40, noisy_sample, {.batch_size = 4, .shuffle = true, .num_workers = 3});
  loader.start_epoch(0);
  loader.next();
  loader.next();
  const auto full = epoch_contents(loader, 0);  // restarts epoch 0 from its first batch
  DataLoader fresh(40, noisy_sample, {.batch_size = 4, .shuffle = true});
  EXPECT_EQ(full, epoch_contents(fresh, 0));
}

// Resuming at batch k of an epoch gives that epoch's batches k, k+1, ... exactly, with workers
// too; a first batch past the end is an error.
TEST(DataLoader, StartingMidEpochGivesTheRemainingBatches) {
  for (int workers : {0, 2}) {
    DataLoader loader(30, noisy_sample,
                      {.batch_size = 4, .shuffle = true, .num_workers = workers, .seed = 4});
    const auto full = epoch_contents(loader, 3);
    loader.start_epoch(3, 5);
    std::vector<std::vector<float>> rest;
    while (auto b = loader.next()) rest.push_back(b->images.to_vector<float>());
    EXPECT_EQ(rest, std::vector<std::vector<float>>(full.begin() + 5, full.end()));
    EXPECT_THROW(loader.start_epoch(0, 9), Error);
  }
}

// Batches delivered on the GPU (pinned staging, copies one batch ahead on the copy stream) hold
// exactly what the cpu loader delivers, with and without workers.
TEST(DataLoaderCuda, DeliversTheCpuBatchesOnTheDevice) {
  AFN_REQUIRE_CUDA();
  for (int workers : {0, 3}) {
    LoaderOptions opt{.batch_size = 4, .shuffle = true, .num_workers = workers, .seed = 9};
    DataLoader cpu_loader(23, noisy_sample, opt);
    opt.device = testing::kCuda0;
    DataLoader gpu_loader(23, noisy_sample, opt);
    for (int64_t epoch : {0, 1}) {
      cpu_loader.start_epoch(epoch);
      gpu_loader.start_epoch(epoch);
      while (auto want = cpu_loader.next()) {
        auto got = gpu_loader.next();
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(got->images.device(), testing::kCuda0);
        EXPECT_EQ(got->indices, want->indices);
        EXPECT_EQ(got->images.cpu().to_vector<float>(), want->images.to_vector<float>());
        EXPECT_EQ(got->labels.cpu().to_vector<int64_t>(), want->labels.to_vector<int64_t>());
      }
      EXPECT_FALSE(gpu_loader.next().has_value());
      EXPECT_EQ(gpu_loader.stats().samples, 23);
    }
  }
}

}  // namespace
}  // namespace afinar::data
