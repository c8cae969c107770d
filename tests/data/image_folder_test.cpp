// ImageFolder: the listing of a tree with nested folders, odd names, links and hidden files
// against torchvision's listing of the same tree (tests/data/fixtures/image_folder_expected.txt,
// made by tools/goldens/image_folder.py), the extension rule, and the errors.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "afinar/core/check.h"
#include "afinar/data/dataset.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace afinar::data {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;

// A fresh folder under the system's temporary folder, removed with everything in it.
void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path).put('x');
}

// Builds the tree described in tests/data/fixtures/image_folder_tree.txt (format described
// there) under `base`, as tools/goldens/image_folder.py does.
void build_tree(const std::string& base) {
  std::ifstream in(testing::test_data_path("fixtures/image_folder_tree.txt"));
  ASSERT_TRUE(in) << "missing fixtures/image_folder_tree.txt";
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, '\t');) f.push_back(field);
    const std::string path = base + "/" + f[1];
    if (f[0] == "f") {
      touch(path);
    } else if (f[0] == "d") {
      fs::create_directories(path);
    } else {
      ASSERT_EQ(f[0], "l") << line;
      ASSERT_EQ(f.size(), 3u) << line;
      fs::create_directories(fs::path(path).parent_path());
      fs::create_symlink(f[2], path);
    }
  }
}

struct Listing {
  std::vector<std::string> classes;
  std::vector<Sample> samples;
};

// torchvision's listing, with paths made absolute again under `base`.
Listing expected_listing(const std::string& base) {
  std::ifstream in(testing::test_data_path("fixtures/image_folder_expected.txt"));
  EXPECT_TRUE(in) << "missing fixtures/image_folder_expected.txt";
  Listing l;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, '\t');) f.push_back(field);
    if (f[0] == "class") {
      EXPECT_EQ(std::stoll(f[1]), int64_t(l.classes.size()));
      l.classes.push_back(f[2]);
    } else {
      l.samples.push_back({base + "/" + f[2], std::stoll(f[1])});
    }
  }
  return l;
}

// Runs `fn` and expects an afinar::Error whose message holds each of `parts`.
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

TEST(ImageFolder, MatchesTorchvisionListing) {
  TempDir base;
  build_tree(base.path());
  const Listing want = expected_listing(base.path());
  ASSERT_FALSE(want.samples.empty());
  const ImageFolder ds = ImageFolder::open(base.path() + "/root");
  EXPECT_EQ(ds.classes(), want.classes);
  for (size_t c = 0; c < want.classes.size(); ++c)
    EXPECT_EQ(ds.class_to_idx().at(want.classes[c]), int64_t(c));
  ASSERT_EQ(ds.size(), int64_t(want.samples.size()));
  for (size_t i = 0; i < want.samples.size(); ++i) {
    EXPECT_EQ(ds.samples()[i].path, want.samples[i].path) << "sample " << i;
    EXPECT_EQ(ds.samples()[i].label, want.samples[i].label) << "sample " << i;
  }
}

TEST(ImageFolder, RootWithTrailingSlashGivesTheSamePaths) {
  // os.path.join("r/", "c") is "r/c"; tools/goldens/image_folder.py asserts this for torchvision.
  TempDir base;
  build_tree(base.path());
  const ImageFolder ds = ImageFolder::open(base.path() + "/root/");
  EXPECT_EQ(ds.samples(), expected_listing(base.path()).samples);
}

TEST(ImageFolder, ExpandsHome) {
  TempDir base;
  touch(base.path() + "/data/a/1.png");
  const char* old = std::getenv("HOME");
  const std::string saved = old ? old : "";
  setenv("HOME", base.path().c_str(), 1);
  const ImageFolder ds = ImageFolder::open("~/data");
  if (old)
    setenv("HOME", saved.c_str(), 1);
  else
    unsetenv("HOME");
  EXPECT_EQ(ds.root(), base.path() + "/data");
  ASSERT_EQ(ds.size(), 1);
  EXPECT_EQ(ds.at(0).path, base.path() + "/data/a/1.png");
}

TEST(ImageFolder, ExtensionRule) {
  // torchvision: path.lower().endswith(IMG_EXTENSIONS).
  for (const char* yes : {"a.jpg", "a.JPG", "b.JpEg", ".png", "x.y.png", "c.ppm", "c.PGM", "d.bmp",
                          "e.tif", "e.TIFF", "f.webp", "a b.jpeg"})
    EXPECT_TRUE(has_image_extension(yes)) << yes;
  for (const char* no : {"", "jpg", "png", "a.jpg.bak", "a.jpgx", "a.gif", "a.jpe", "a.pbm",
                         "a.tif ", "a_jpg", "a.j pg"})
    EXPECT_FALSE(has_image_extension(no)) << no;
}

TEST(ImageFolder, CountsTargetsAndDescribe) {
  TempDir base;
  for (const char* f : {"b/1.png", "b/2.png", "b/sub/3.png", "a/1.jpg", "c/x.bmp", "c/notes.txt"})
    touch(base.path() + "/" + f);
  const ImageFolder ds = ImageFolder::open(base.path());
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ds.class_counts(), (std::vector<int64_t>{1, 3, 1}));
  EXPECT_EQ(ds.targets(), (std::vector<int64_t>{0, 1, 1, 1, 2}));
  EXPECT_EQ(ds.num_classes(), 3);
  const std::string d = ds.describe();
  EXPECT_NE(d.find("3 classes, 5 images"), std::string::npos) << d;
  EXPECT_NE(d.find("1 b: 3"), std::string::npos) << d;
  expect_error([&] { ds.at(5); }, {"index 5 out of range", "5 samples"});
  expect_error([&] { ds.at(-1); }, {"index -1"});
}

TEST(ImageFolder, MissingRootIsAnError) {
  TempDir base;
  const std::string root = base.path() + "/nope";
  expect_error([&] { ImageFolder::open(root); }, {root, "does not exist"});
  expect_error([&] { ImageFolder::open(""); }, {"empty"});
}

TEST(ImageFolder, RootThatIsAFileIsAnError) {
  TempDir base;
  touch(base.path() + "/file.jpg");
  expect_error([&] { ImageFolder::open(base.path() + "/file.jpg"); },
               {base.path() + "/file.jpg", "is not a folder"});
}

TEST(ImageFolder, RootWithoutClassFoldersIsAnError) {
  // torchvision: "Couldn't find any class folder in <root>."
  TempDir base;
  touch(base.path() + "/1.jpg");
  expect_error([&] { ImageFolder::open(base.path()); }, {"no class folder", base.path()});
}

TEST(ImageFolder, ClassesWithoutImagesAreNamed) {
  // torchvision: "Found no valid file for the classes empty, text_only. Supported extensions
  // are: .jpg, ..." (names sorted, checked with torchvision 0.14 on this tree).
  TempDir base;
  touch(base.path() + "/ok/1.png");
  touch(base.path() + "/text_only/readme.txt");
  touch(base.path() + "/text_only/sub/notes");
  fs::create_directories(base.path() + "/empty");
  expect_error([&] { ImageFolder::open(base.path()); },
               {"no valid file for the classes empty, text_only", base.path(), ".jpg, .jpeg"});
}

TEST(ImageFolder, LinkToAnAncestorIsAnError) {
  // os.walk(followlinks=True) would follow the loop until the path is too long.
  TempDir base;
  touch(base.path() + "/c/1.png");
  fs::create_directories(base.path() + "/c/sub");
  fs::create_symlink("..", base.path() + "/c/sub/up");
  expect_error([&] { ImageFolder::open(base.path()); }, {base.path() + "/c/sub/up", "parent"});
}

TEST(ImageFolder, ClassCountsRejectsBadLabels) {
  expect_error([] { class_counts({{"x.png", 2}}, 2); }, {"x.png", "label 2", "[0, 2)"});
  EXPECT_EQ(class_counts({{"a", 1}, {"b", 1}, {"c", 0}}, 3), (std::vector<int64_t>{1, 2, 0}));
}

}  // namespace
}  // namespace afinar::data
