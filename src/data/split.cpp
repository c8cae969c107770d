// Seeded stratified splits and the train/val/test folder layouts. The rounding rule is written
// out in include/afinar/data/dataset.h (stratified_split).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "afinar/core/check.h"
#include "afinar/data/dataset.h"

namespace afinar::data {
namespace {

// The high 64 bits of a·b (the 128-bit product, schoolbook on 32-bit halves).
uint64_t mul_high(uint64_t a, uint64_t b) {
  const uint64_t a_lo = uint32_t(a), a_hi = a >> 32, b_lo = uint32_t(b), b_hi = b >> 32;
  const uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
  const uint64_t cross = (lo_lo >> 32) + uint32_t(hi_lo) + uint32_t(lo_hi);
  return a_hi * b_hi + (hi_lo >> 32) + (lo_hi >> 32) + (cross >> 32);
}

void check_fraction(double f, const char* name) {
  AFN_CHECK(f == 0.0 || (f > 0.0 && f < 1.0), "stratified split: the ", name,
            " fraction must be 0 (no ", name, " split) or in (0, 1), got ", f);
}

// Size of a held-out split of n samples: round(f·n), at least 1 for a non-zero fraction.
int64_t split_total(double f, int64_t n) {
  if (f == 0.0) return 0;
  return std::max<int64_t>(1, std::llround(f * double(n)));
}

// Per-class counts k_c in [lo_c, hi_c] near the quotas q_c = total·n_c/N, summing to `total`
// where the bounds allow (Hamilton's largest remainders; ties to the lower class). Remainders
// are compared exactly as total·n_c - k_c·N.
std::vector<int64_t> apportion(int64_t total, const std::vector<int64_t>& n,
                               const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
  int64_t n_all = 0;
  for (int64_t v : n) n_all += v;
  const size_t classes = n.size();
  std::vector<int64_t> k(classes);
  int64_t sum = 0;
  for (size_t c = 0; c < classes; ++c) {
    k[c] = std::clamp(total * n[c] / n_all, lo[c], hi[c]);
    sum += k[c];
  }
  auto remainder = [&](size_t c) { return total * n[c] - k[c] * n_all; };  // (q_c - k_c)·N
  while (sum != total) {
    const bool add = sum < total;
    size_t best = classes;
    for (size_t c = 0; c < classes; ++c) {
      if (add ? k[c] >= hi[c] : k[c] <= lo[c]) continue;
      if (best == classes ||
          (add ? remainder(c) > remainder(best) : remainder(c) < remainder(best)))
        best = c;
    }
    if (best == classes) break;  // every class at its bound: as close as the bounds allow
    k[best] += add ? 1 : -1;
    sum += add ? 1 : -1;
  }
  return k;
}

bool is_dir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string percent(double f) {
  std::ostringstream os;
  os << f * 100 << "%";
  return os.str();
}

// The class list of `other` must be train's: a class missing from one split or extra in it would
// give the same folder name different labels in the two (torchvision numbers each folder alone).
void check_same_classes(const ImageFolder& train, const ImageFolder& other) {
  if (other.classes() == train.classes()) return;
  std::string missing, extra;
  for (const std::string& c : train.classes())
    if (!other.class_to_idx().count(c)) missing += (missing.empty() ? "" : ", ") + c;
  for (const std::string& c : other.classes())
    if (!train.class_to_idx().count(c)) extra += (extra.empty() ? "" : ", ") + c;
  AFN_FAIL("open_splits: the class folders of '", other.root(), "' differ from those of '",
           train.root(), "' (missing: [", missing, "], extra: [", extra,
           "]); every split needs the same class folders so that labels agree");
}

}  // namespace

std::vector<int64_t> random_permutation(int64_t n, Generator& gen) {
  AFN_CHECK(n >= 0, "random_permutation: n must be >= 0, got ", n);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t(0));
  const uint64_t offset = gen.draw_offset(uint64_t(n + 1) / 2);
  // Step i (n-1 down to 1) uses 64-bit word i of the reserved blocks: two per block.
  for (int64_t i = n - 1; i >= 1; --i) {
    const auto b = gen.block(offset + uint64_t(i) / 2);
    const int w = 2 * int(i % 2);
    const uint64_t u = uint64_t(b[size_t(w)]) << 32 | b[size_t(w + 1)];
    const auto j = int64_t(mul_high(u, uint64_t(i) + 1));
    std::swap(p[size_t(i)], p[size_t(j)]);
  }
  return p;
}

StratifiedSplit stratified_split(const std::vector<Sample>& samples, int64_t num_classes,
                                 const SplitOptions& options) {
  check_fraction(options.val, "val");
  check_fraction(options.test, "test");
  AFN_CHECK(options.val + options.test < 1.0,
            "stratified split: val + test fractions must be < 1 "
            "to leave samples for training, got ",
            options.val, " + ", options.test);
  const std::vector<int64_t> n = class_counts(samples, num_classes);
  const auto N = int64_t(samples.size());
  const int64_t V = split_total(options.val, N), T = split_total(options.test, N);
  if (V == 0 && T == 0) return {samples, {}, {}};
  AFN_CHECK(N > 0, "stratified split: there are no samples to split");

  // Reservations (step 2 of the rule): train first, then val, then test.
  const size_t C = size_t(num_classes);
  std::vector<int64_t> min_v(C), min_t(C), hi_v(C), hi_t(C), zero(C, 0);
  for (size_t c = 0; c < C; ++c) {
    const int64_t min_train = n[c] > 0 ? 1 : 0;
    min_v[c] = V > 0 && n[c] >= 2 ? 1 : 0;
    min_t[c] = T > 0 && n[c] >= 2 + min_v[c] ? 1 : 0;
    hi_v[c] = n[c] - min_train - min_t[c];
  }
  const std::vector<int64_t> v = V > 0 ? apportion(V, n, min_v, hi_v) : zero;
  for (size_t c = 0; c < C; ++c) hi_t[c] = n[c] - (n[c] > 0 ? 1 : 0) - v[c];
  const std::vector<int64_t> t = T > 0 ? apportion(T, n, min_t, hi_t) : zero;

  // Which split each sample goes to: 0 train, 1 val, 2 test.
  std::vector<std::vector<size_t>> members(C);
  for (size_t i = 0; i < samples.size(); ++i) members[size_t(samples[i].label)].push_back(i);
  std::vector<int> where(samples.size(), 0);
  Generator gen(options.seed);
  for (size_t c = 0; c < C; ++c) {
    const std::vector<int64_t> perm = random_permutation(n[c], gen);
    for (int64_t r = 0; r < n[c]; ++r) {
      const size_t i = members[c][size_t(perm[size_t(r)])];
      where[i] = r < v[c] ? 1 : r < v[c] + t[c] ? 2 : 0;
    }
  }
  StratifiedSplit out;
  for (size_t i = 0; i < samples.size(); ++i) {
    (where[i] == 1 ? out.val : where[i] == 2 ? out.test : out.train).push_back(samples[i]);
  }
  AFN_CHECK(V == 0 || !out.val.empty(), "stratified split: a val fraction of ", options.val,
            " leaves the val split empty: no class has the 2 samples it needs to give one to train "
            "and one to val");
  AFN_CHECK(T == 0 || !out.test.empty(), "stratified split: a test fraction of ", options.test,
            " leaves the test split empty: no class has the ", V > 0 ? 3 : 2,
            " samples it needs to give one to each split");
  return out;
}

DatasetSplits open_splits(const std::string& root_arg, const SplitOptions& options) {
  check_fraction(options.val, "val");
  check_fraction(options.test, "test");
  const std::string root = expand_user(root_arg);
  DatasetSplits s;
  s.root = root;
  const std::string train_dir = join_path(root, "train"), test_dir = join_path(root, "test");
  const bool has_train = is_dir(train_dir), has_test = is_dir(test_dir);
  const bool has_val = is_dir(join_path(root, "val")), has_valid = is_dir(join_path(root, "valid"));

  if (!has_train) {
    AFN_CHECK(!has_val && !has_valid && !has_test, "open_splits: '", root,
              "' has a val, valid or test folder but no train folder; expected "
              "root/train/<class>/... (with root/val or root/valid, root/test) or "
              "root/<class>/...");
    const ImageFolder all = ImageFolder::open(root);
    StratifiedSplit split = stratified_split(all.samples(), all.num_classes(), options);
    s.classes = all.classes();
    s.train = std::move(split.train);
    s.val = std::move(split.val);
    s.test = std::move(split.test);
    s.train_source = all.root();
  } else {
    AFN_CHECK(!(has_val && has_valid), "open_splits: '", root,
              "' has both a val and a valid folder; keep one of them");
    const std::string val_dir = join_path(root, has_val ? "val" : "valid");
    const bool val_folder = has_val || has_valid;
    AFN_CHECK(!(val_folder && options.val > 0), "open_splits: '", val_dir,
              "' exists, so a val fraction (", options.val, ") cannot also be split off train");
    AFN_CHECK(!(has_test && options.test > 0), "open_splits: '", test_dir,
              "' exists, so a test fraction (", options.test, ") cannot also be split off train");
    const ImageFolder train = ImageFolder::open(train_dir);
    s.classes = train.classes();
    s.train_source = train.root();
    StratifiedSplit carved = stratified_split(train.samples(), train.num_classes(), options);
    s.train = std::move(carved.train);
    s.val = std::move(carved.val);
    s.test = std::move(carved.test);
    if (val_folder) {
      const ImageFolder val = ImageFolder::open(val_dir);
      check_same_classes(train, val);
      s.val = val.samples();
      s.val_source = val.root();
    }
    if (has_test) {
      const ImageFolder test = ImageFolder::open(test_dir);
      check_same_classes(train, test);
      s.test = test.samples();
      s.test_source = test.root();
    }
  }
  // Sources of the splits carved by stratified_split.
  auto carved_from = [&](double f) {
    std::ostringstream os;
    os << percent(f) << " of " << s.train_source << " (stratified, seed " << options.seed << ")";
    return os.str();
  };
  if (options.val > 0) s.val_source = carved_from(options.val);
  if (options.test > 0) s.test_source = carved_from(options.test);
  if (options.val > 0 || options.test > 0) {
    s.train_source = percent(1.0 - options.val - options.test) + " of " + s.train_source +
                     " (stratified, seed " + std::to_string(options.seed) + ")";
  }
  return s;
}

std::string DatasetSplits::describe() const {
  std::ostringstream os;
  os << "Dataset '" << root << "': " << classes.size() << " classes\n";
  const std::vector<Sample>* splits[3] = {&train, &val, &test};
  const char* names[3] = {"train", "val", "test"};
  const std::string* sources[3] = {&train_source, &val_source, &test_source};
  std::vector<std::vector<int64_t>> counts;
  for (int k = 0; k < 3; ++k) {
    counts.push_back(class_counts(*splits[k], int64_t(classes.size())));
    if (!splits[k]->empty())
      os << "  " << names[k] << ": " << splits[k]->size() << " images from " << *sources[k] << "\n";
  }
  size_t width = 5;
  for (const std::string& c : classes) width = std::max(width, c.size());
  os << "  " << std::left << std::setw(int(width)) << "class" << std::right;
  for (int k = 0; k < 3; ++k)
    if (!splits[k]->empty()) os << std::setw(8) << names[k];
  os << "\n";
  for (size_t c = 0; c < classes.size(); ++c) {
    os << "  " << std::left << std::setw(int(width)) << classes[c] << std::right;
    for (int k = 0; k < 3; ++k)
      if (!splits[k]->empty()) os << std::setw(8) << counts[size_t(k)][c];
    os << "\n";
  }
  return os.str();
}

}  // namespace afinar::data
