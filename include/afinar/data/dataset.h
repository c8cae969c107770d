// Image datasets on disk: torchvision's ImageFolder listing, the train/val/test layouts, and a
// seeded stratified split for datasets that come as one folder per class.
//
//   ImageFolder ds = ImageFolder::open("flowers");          // flowers/<class>/**/<image>
//   DatasetSplits s = open_splits("flowers", {.val = 0.2, .seed = 42});
//   for (const Sample& x : s.train) ...                      // x.path, x.label in [0, classes)
//
// ImageFolder lists exactly what torchvision.datasets.ImageFolder(root) lists, in its order:
//   classes  = sorted names of root's sub-folders (symbolic links to folders count; hidden
//              folders such as ".ipynb_checkpoints" count too, as in torchvision). Sorting is by
//              bytes, which for UTF-8 names is Python's code-point order.
//   samples  = for each class in order: every file below root/<class>, at any depth, found as
//              os.walk(followlinks=True) finds them, whose name ends in one of kImageExtensions
//              (ASCII case-insensitive: "a.JPG" counts). torchvision sorts the (folder, files)
//              tuples of the walk, so folders come in the byte order of their whole path and the
//              files of one folder in name order: root/c/x.jpg, root/c/a b/y.jpg,
//              root/c/a/z.jpg (' ' < '/'), not a depth-first order. Hidden files count when their
//              extension does (".x.png", even ".png"); broken links with an image extension are
//              listed too (decoding reports them, as PIL would).
//   paths    = os.path.join(root, class, ...): "root/cat/1.jpg", or "root/cat/1.jpg" again for
//              root = "root/" (no doubled slash); a leading "~" is expanded as expanduser does.
// Where afinar differs from torchvision (both would otherwise only lose data silently or loop):
//   - a folder below a class that cannot be read is an error (os.walk skips it silently);
//   - a symbolic link leading back to one of its own ancestors is an error (os.walk follows it
//     until the path gets too long, listing the same files dozens of times);
//   - names that are not valid UTF-8 sort by bytes (Python decodes them to lone surrogates,
//     U+DC80..U+DCFF, which sort before U+E000 but after every valid byte sequence below it).
// .tif, .tiff and .webp files are listed as torchvision lists them; afinar's decoders (stb_image,
// libjpeg-turbo) do not read them, so the loader reports them as undecodable.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "afinar/core/rng.h"

namespace afinar::data {

// torchvision.datasets.folder.IMG_EXTENSIONS.
inline constexpr std::array<std::string_view, 9> kImageExtensions = {
    ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};

// True when `name` ends in one of kImageExtensions, ignoring ASCII case (torchvision lowercases
// the whole path with str.lower(); no non-ASCII letter lowercases to one of these suffixes).
bool has_image_extension(std::string_view name);

// Path spelling as torchvision makes it: os.path.join(a, b) for a relative b ("a/b", or "a/b" for
// a = "a/"), and os.path.expanduser ("~/x", "~user/x"; unchanged when the user is unknown).
std::string join_path(const std::string& a, const std::string& b);
std::string expand_user(const std::string& path);

struct Sample {
  std::string path;
  int64_t label = 0;  // index into the dataset's classes

  bool operator==(const Sample&) const = default;
};

class ImageFolder {
 public:
  // Lists root/<class>/**/<image>. Throws afinar::Error naming the path when root is missing or
  // not a folder, has no class folders, or some class holds no image file (torchvision's "Found
  // no valid file for the classes ..."): all before any image is read.
  static ImageFolder open(const std::string& root);

  const std::string& root() const { return root_; }  // as given, "~" expanded
  const std::vector<std::string>& classes() const { return classes_; }
  int64_t num_classes() const { return int64_t(classes_.size()); }
  const std::map<std::string, int64_t>& class_to_idx() const { return class_to_idx_; }
  const std::vector<Sample>& samples() const { return samples_; }
  int64_t size() const { return int64_t(samples_.size()); }
  const Sample& at(int64_t i) const;          // bounds-checked
  std::vector<int64_t> targets() const;       // the label of each sample, in order
  std::vector<int64_t> class_counts() const;  // images per class, in class order
  // "ImageFolder 'root': 3 classes, 120 images" and one line per class with its count.
  std::string describe() const;

 private:
  std::string root_;
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> class_to_idx_;
  std::vector<Sample> samples_;
};

// Images per class for labels in [0, num_classes); throws on a label outside it.
std::vector<int64_t> class_counts(const std::vector<Sample>& samples, int64_t num_classes);

// A uniformly random permutation of 0..n-1 (Fisher-Yates). It draws ceil(n/2) Philox blocks
// from `gen` (gen.draw_offset), one 64-bit word per swap, so it depends only on the generator's
// seed and offset. j = floor(u·(i+1) / 2^64) picks the swap partner of i: a bias below
// (i+1)/2^64, far under anything measurable.
std::vector<int64_t> random_permutation(int64_t n, Generator& gen);

// ---- splits ------------------------------------------------------------------------------------

// Fractions of the samples to hold out; 0 (no such split) or in (0, 1), val + test < 1.
struct SplitOptions {
  double val = 0.0;
  double test = 0.0;
  uint64_t seed = 0;
};

struct StratifiedSplit {
  std::vector<Sample> train, val, test;
};

// Splits `samples` (labels in [0, num_classes)) like sklearn's
// train_test_split(stratify=labels), each class keeping its proportions in every split:
//
//   1. Split sizes: V = round(val·N), T = round(test·N) (half away from zero), at least 1 when
//      the fraction is non-zero; train gets the rest. (sklearn rounds the held-out size up.)
//   2. Each class c with n_c samples first reserves one sample for train, then (n_c >= 2) one
//      for val, then one for test, skipping splits that are empty: every class with at least as
//      many samples as there are non-empty splits appears in each of them; a class with a single
//      sample goes to train (sklearn refuses such classes).
//   3. Per-class counts by largest remainders (Hamilton's method), val first, then test: class c's
//      quota is q_c = V·n_c/N; it gets floor(q_c) clamped to its bounds (its reservation below,
//      n_c minus the other splits' reservations above), then units go one at a time to the class
//      furthest below its quota (or come back from the one furthest above) until the counts sum
//      to V, or the bounds allow no closer sum. Ties go to the lower class index. Exact integer
//      arithmetic, so the counts do not depend on the seed.
//   4. Each class's samples are permuted with random_permutation(n_c, Generator(seed)), classes in
//      label order on one generator; the first v_c go to val, the next t_c to test, the rest to
//      train. Within a split, samples keep their order in `samples` (class-major for an
//      ImageFolder); shuffling is the loader's job.
//
// Throws when a fraction is out of range, a label is outside [0, num_classes), or a requested
// split would come out empty (too few samples).
StratifiedSplit stratified_split(const std::vector<Sample>& samples, int64_t num_classes,
                                 const SplitOptions& options);

// A dataset's splits sharing one class list; val and test may be empty.
struct DatasetSplits {
  std::string root;
  std::vector<std::string> classes;
  std::vector<Sample> train, val, test;
  // Where each split came from: "flowers/valid", "20% of flowers/train (stratified, seed 42)".
  std::string train_source, val_source, test_source;

  // One line per non-empty split (its count and source), then the images per class and split.
  std::string describe() const;
};

// Opens a dataset in either layout:
//   root/train/<class>/..., optional root/val/ or root/valid/ (not both), optional root/test/:
//     each folder is an ImageFolder; all must have the same class folders (a missing or extra
//     class would shift torchvision's labels silently). options.val / options.test carve a
//     stratified split out of train for a split that has no folder; asking for a fraction of a
//     split that has its own folder is an error.
//   root/<class>/...: one ImageFolder, split by stratified_split(options).
// The layout is the first when root holds a folder named "train"; "val", "valid" or "test"
// without "train" is an error.
DatasetSplits open_splits(const std::string& root, const SplitOptions& options = {});

}  // namespace afinar::data
