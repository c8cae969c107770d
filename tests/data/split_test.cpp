// Seeded stratified splits (counts worked out by hand from the rule in dataset.h, proportions,
// determinism, disjoint and complete), random_permutation, and open_splits on both layouts.
#include <gtest/gtest.h>

#include <stdlib.h>
#include "testing/temp_dir.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "afinar/core/check.h"
#include "afinar/data/dataset.h"

namespace afinar::data {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;

// A fresh folder under the system's temporary folder, removed with everything in it.
void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path).put('x');
}

// `counts[c]` samples of class c, class-major, paths "<c>/<i>".
std::vector<Sample> make_samples(const std::vector<int64_t>& counts) {
  std::vector<Sample> s;
  for (size_t c = 0; c < counts.size(); ++c)
    for (int64_t i = 0; i < counts[c]; ++i)
      s.push_back({std::to_string(c) + "/" + std::to_string(i), int64_t(c)});
  return s;
}

std::vector<int64_t> counts_of(const std::vector<Sample>& s, size_t classes) {
  return class_counts(s, int64_t(classes));
}

template <typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no afinar::Error thrown";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what;
  }
}

// Every sample lands in exactly one split, and each split keeps the input order.
void expect_partition(const std::vector<Sample>& all, const StratifiedSplit& s) {
  std::multiset<std::string> got;
  for (const auto* part : {&s.train, &s.val, &s.test}) {
    for (const Sample& x : *part) got.insert(x.path);
    // A subsequence of `all`: positions strictly increase.
    auto it = all.begin();
    for (const Sample& x : *part) {
      it = std::find(it, all.end(), x);
      ASSERT_NE(it, all.end()) << x.path << " out of order or unknown";
      ++it;
    }
  }
  std::multiset<std::string> want;
  for (const Sample& x : all) want.insert(x.path);
  EXPECT_EQ(got, want);
}

TEST(StratifiedSplit, CountsByHand) {
  // n = {10, 5, 5}, N = 20. V = round(0.2·20) = 4: quotas 2, 1, 1, exact.
  // T = round(0.25·20) = 5: quotas 2.5, 1.25, 1.25 -> floors 2, 1, 1 (4), the last unit to the
  // largest remainder, class 0. Train gets the rest: 5, 3, 3.
  const std::vector<Sample> all = make_samples({10, 5, 5});
  const StratifiedSplit s = stratified_split(all, 3, {.val = 0.2, .test = 0.25, .seed = 7});
  EXPECT_EQ(counts_of(s.val, 3), (std::vector<int64_t>{2, 1, 1}));
  EXPECT_EQ(counts_of(s.test, 3), (std::vector<int64_t>{3, 1, 1}));
  EXPECT_EQ(counts_of(s.train, 3), (std::vector<int64_t>{5, 3, 3}));
  expect_partition(all, s);
}

TEST(StratifiedSplit, TiesGoToTheLowerClass) {
  // n = {3, 3, 3}: V = round(4.5) = 5, quotas 5/3 each -> floors 1, 1, 1, two units left, tied
  // remainders -> classes 0 and 1.
  const StratifiedSplit s = stratified_split(make_samples({3, 3, 3}), 3, {.val = 0.5});
  EXPECT_EQ(counts_of(s.val, 3), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(counts_of(s.train, 3), (std::vector<int64_t>{1, 1, 2}));
}

TEST(StratifiedSplit, SmallClassesKeepOneSampleInEachSplit) {
  // n = {2, 2, 50, 1}, N = 55, V = T = round(5.5) = 6. Reservations: the 2-sample classes give
  // train 1 and val 1 (none left for test); class 2 gives one to each; class 3 only to train.
  // Val: quotas 6·{2,2,50,1}/55 = 0.22, 0.22, 5.45, 0.11 -> floors 0, 0, 5, 0, raised to the
  // reservations 1, 1, 5, 0 (7 > 6) -> one unit back from the class furthest above its quota
  // that is above its reservation: class 2 -> 1, 1, 4, 0. Test: bounds [0,0], [0,0], [1,45],
  // [0,0] -> floors 0, 0, 5, 0 -> class 2 takes the remaining unit: 0, 0, 6, 0.
  const StratifiedSplit s =
      stratified_split(make_samples({2, 2, 50, 1}), 4, {.val = 0.1, .test = 0.1});
  EXPECT_EQ(counts_of(s.val, 4), (std::vector<int64_t>{1, 1, 4, 0}));
  EXPECT_EQ(counts_of(s.test, 4), (std::vector<int64_t>{0, 0, 6, 0}));
  EXPECT_EQ(counts_of(s.train, 4), (std::vector<int64_t>{1, 1, 40, 1}));
}

TEST(StratifiedSplit, KeepsClassProportions) {
  // Unequal classes, sklearn's typical 70/15/15: totals hit round(f·N), every class gets within
  // one sample of its quota total·n_c/N (largest remainders) and at least one in each split.
  const std::vector<int64_t> n = {400, 123, 77, 31, 9, 3};
  const std::vector<Sample> all = make_samples(n);
  const auto N = double(all.size());
  const StratifiedSplit s = stratified_split(all, 6, {.val = 0.15, .test = 0.15, .seed = 3});
  EXPECT_EQ(double(s.val.size()), std::round(0.15 * N));
  EXPECT_EQ(double(s.test.size()), std::round(0.15 * N));
  const auto v = counts_of(s.val, 6), t = counts_of(s.test, 6), tr = counts_of(s.train, 6);
  for (size_t c = 0; c < n.size(); ++c) {
    const double quota = double(s.val.size()) * double(n[c]) / N;
    EXPECT_LT(std::abs(double(v[c]) - quota), 1.0) << "class " << c;
    EXPECT_LT(std::abs(double(t[c]) - quota), 1.0) << "class " << c;
    EXPECT_GE(std::min({v[c], t[c], tr[c]}), 1) << "class " << c;
  }
  expect_partition(all, s);
}

TEST(StratifiedSplit, SameSeedSameSplitOtherSeedOtherSplit) {
  const std::vector<Sample> all = make_samples({60, 40});
  const StratifiedSplit a = stratified_split(all, 2, {.val = 0.25, .seed = 1});
  const StratifiedSplit b = stratified_split(all, 2, {.val = 0.25, .seed = 1});
  const StratifiedSplit c = stratified_split(all, 2, {.val = 0.25, .seed = 2});
  EXPECT_EQ(a.val, b.val);
  EXPECT_EQ(a.train, b.train);
  // Same counts (they do not depend on the seed), different members: the chance that two seeds
  // pick the same 15 of 60 and 10 of 40 is below 1e-20.
  EXPECT_EQ(counts_of(a.val, 2), counts_of(c.val, 2));
  EXPECT_NE(a.val, c.val);
  expect_partition(all, c);
}

TEST(StratifiedSplit, ZeroFractionsKeepEverythingInTrain) {
  const std::vector<Sample> all = make_samples({3, 1});
  const StratifiedSplit s = stratified_split(all, 2, {});
  EXPECT_EQ(s.train, all);
  EXPECT_TRUE(s.val.empty() && s.test.empty());
}

TEST(StratifiedSplit, BadArgumentsAreErrors) {
  const std::vector<Sample> all = make_samples({5, 5});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { stratified_split(all, 2, {.val = -0.1}); }, {"val fraction", "-0.1"});
  expect_error([&] { stratified_split(all, 2, {.test = 1.0}); }, {"test fraction"});
  expect_error([&] { stratified_split(all, 2, {.val = nan}); }, {"val fraction"});
  expect_error([&] { stratified_split(all, 2, {.val = 0.5, .test = 0.5}); }, {"< 1"});
  expect_error([&] { stratified_split(all, 1, {.val = 0.5}); }, {"label 1"});
  // Single-sample classes stay in train, so nothing is left for val.
  expect_error(
      [&] {
        stratified_split(make_samples({1, 1, 1}), 3, {.val = 0.3});
      },
      {"val split empty"});
  expect_error([&] { stratified_split({}, 2, {.test = 0.5}); }, {"no samples"});
  // Two samples per class cover train and val; test gets none.
  expect_error(
      [&] {
        stratified_split(make_samples({2, 2}), 2, {.val = 0.3, .test = 0.3});
      },
      {"test split empty"});
}

TEST(RandomPermutation, IsAUniformPermutation) {
  // Every ordering of 3 elements, 60000 draws: chi-square with 5 degrees of freedom against its
  // 0.1% critical value, 20.52.
  Generator gen(11);
  std::map<std::vector<int64_t>, int> seen;
  const int draws = 60000;
  for (int k = 0; k < draws; ++k) ++seen[random_permutation(3, gen)];
  ASSERT_EQ(seen.size(), 6u);
  double chi2 = 0;
  for (const auto& [perm, count] : seen) chi2 += std::pow(count - draws / 6.0, 2) / (draws / 6.0);
  EXPECT_LT(chi2, 20.52);
  // One Philox block (two draws) per two elements.
  Generator g(5);
  const std::vector<int64_t> p = random_permutation(1001, g);
  EXPECT_EQ(g.offset(), 501u);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1001; ++i) EXPECT_EQ(sorted[size_t(i)], i);
  Generator again(5);
  EXPECT_EQ(random_permutation(1001, again), p);
  EXPECT_TRUE(random_permutation(0, again).empty());
}

// ---- open_splits -------------------------------------------------------------------------------

// root/<split>/<class>/<i>.png for each split and its class counts.
void make_tree(const std::string& root,
               const std::vector<std::pair<std::string, std::vector<int64_t>>>& splits) {
  for (const auto& [split, counts] : splits)
    for (size_t c = 0; c < counts.size(); ++c)
      for (int64_t i = 0; i < counts[c]; ++i)
        touch(root + "/" + split + (split.empty() ? "" : "/") + "k" + std::to_string(c) + "/" +
              std::to_string(i) + ".png");
}

TEST(OpenSplits, TrainValidTestFolders) {
  TempDir d;
  make_tree(d.path(), {{"train", {4, 3}}, {"valid", {2, 1}}, {"test", {1, 2}}});
  const DatasetSplits s = open_splits(d.path());
  EXPECT_EQ(s.classes, (std::vector<std::string>{"k0", "k1"}));
  EXPECT_EQ(counts_of(s.train, 2), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(counts_of(s.val, 2), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(counts_of(s.test, 2), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(s.val[0].path, d.path() + "/valid/k0/0.png");
  EXPECT_EQ(s.val_source, d.path() + "/valid");
  const std::string text = s.describe();
  EXPECT_NE(text.find("val: 3 images from " + d.path() + "/valid"), std::string::npos) << text;
}

TEST(OpenSplits, CarvesValOutOfTrain) {
  TempDir d;
  make_tree(d.path(), {{"train", {10, 10}}, {"test", {2, 2}}});
  const DatasetSplits s = open_splits(d.path(), {.val = 0.2, .seed = 4});
  EXPECT_EQ(counts_of(s.val, 2), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(counts_of(s.train, 2), (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(counts_of(s.test, 2), (std::vector<int64_t>{2, 2}));
  for (const Sample& x : s.val) EXPECT_NE(x.path.find("/train/"), std::string::npos);
  EXPECT_NE(s.val_source.find("20% of " + d.path() + "/train"), std::string::npos) << s.val_source;
}

TEST(OpenSplits, SingleFolderIsSplitStratified) {
  TempDir d;
  make_tree(d.path(), {{"", {20, 10}}});
  const DatasetSplits s = open_splits(d.path(), {.val = 0.1, .test = 0.2, .seed = 9});
  EXPECT_EQ(counts_of(s.val, 2), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(counts_of(s.test, 2), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(counts_of(s.train, 2), (std::vector<int64_t>{14, 7}));
  const StratifiedSplit direct = stratified_split(ImageFolder::open(d.path()).samples(), 2,
                                                  {.val = 0.1, .test = 0.2, .seed = 9});
  EXPECT_EQ(s.val, direct.val);
  EXPECT_EQ(s.test, direct.test);
}

TEST(OpenSplits, LayoutErrors) {
  TempDir a, b, c, e;
  make_tree(a.path(), {{"train", {1}}, {"val", {1}}, {"valid", {1}}});
  expect_error([&] { open_splits(a.path()); }, {"both a val and a valid folder"});
  make_tree(b.path(), {{"val", {1}}, {"k0", {1}}});
  expect_error([&] { open_splits(b.path()); }, {"no train folder", b.path()});
  make_tree(c.path(), {{"train", {1, 1}}, {"val", {1}}});
  touch(c.path() + "/val/extra/1.png");
  expect_error([&] { open_splits(c.path()); },
               {c.path() + "/val", "missing: [k1]", "extra: [extra]"});
  make_tree(e.path(), {{"train", {5}}, {"test", {1}}});
  expect_error([&] { open_splits(e.path(), {.test = 0.2}); }, {e.path() + "/test", "exists"});
}

}  // namespace
}  // namespace afinar::data
