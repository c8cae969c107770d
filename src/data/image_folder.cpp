// ImageFolder: torchvision's find_classes + make_dataset (torchvision/datasets/folder.py), with
// os.scandir / os.walk(followlinks=True) done by POSIX calls. See include/afinar/data/dataset.h
// for the listing rules and where they differ from torchvision.
#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <utility>

#include "afinar/core/check.h"
#include "afinar/data/dataset.h"

namespace afinar::data {
namespace {

struct Entry {
  std::string name;
  bool is_dir = false;  // a folder or a link to one (os.DirEntry.is_dir() follows links)
};

// The entries of `dir` except "." and "..", unsorted; false (errno set) when it cannot be read.
bool list_dir(const std::string& dir, std::vector<Entry>& out) {
  out.clear();
  DIR* d = opendir(dir.c_str());
  if (!d) return false;
  errno = 0;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
      struct stat st;  // follows the link; a broken link is not a folder
      is_dir = stat(join_path(dir, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    out.push_back({name, is_dir});
    errno = 0;
  }
  const int err = errno;
  closedir(d);
  errno = err;
  return err == 0;
}

struct DirId {
  dev_t dev;
  ino_t ino;
  bool operator==(const DirId&) const = default;
};

// One folder of the walk and the image files directly in it (os.walk's (root, dirs, files)).
struct WalkedDir {
  std::string path;
  std::vector<std::string> files;
};

// os.walk(top, followlinks=True), keeping only image files. `ancestors` holds the folders on the
// path from the class folder down to `dir`, to refuse a link back to one of them.
void walk(const std::string& dir, std::vector<DirId>& ancestors, std::vector<WalkedDir>& out) {
  struct stat st;
  AFN_CHECK(stat(dir.c_str(), &st) == 0, "ImageFolder: cannot read folder '", dir,
            "': ", std::strerror(errno));
  const DirId id{st.st_dev, st.st_ino};
  AFN_CHECK(std::find(ancestors.begin(), ancestors.end(), id) == ancestors.end(), "ImageFolder: '",
            dir,
            "' is a symbolic link to one of its own parent folders; following it would "
            "never end. Remove the link or point it elsewhere.");
  std::vector<Entry> entries;
  AFN_CHECK(list_dir(dir, entries), "ImageFolder: cannot read folder '", dir,
            "': ", std::strerror(errno));
  WalkedDir here{dir, {}};
  std::vector<std::string> subdirs;
  for (Entry& e : entries) {
    if (e.is_dir)
      subdirs.push_back(std::move(e.name));
    else if (has_image_extension(e.name))
      here.files.push_back(std::move(e.name));
  }
  std::sort(here.files.begin(), here.files.end());
  out.push_back(std::move(here));
  ancestors.push_back(id);
  for (const std::string& sub : subdirs) walk(join_path(dir, sub), ancestors, out);
  ancestors.pop_back();
}

// find_classes: the sorted names of root's sub-folders.
std::vector<std::string> find_classes(const std::string& root) {
  struct stat st;
  AFN_CHECK(stat(root.c_str(), &st) == 0, "ImageFolder: root '", root,
            "' does not exist or cannot be reached: ", std::strerror(errno));
  AFN_CHECK(S_ISDIR(st.st_mode), "ImageFolder: root '", root,
            "' is not a folder; expected root/<class>/<image files>");
  std::vector<Entry> entries;
  AFN_CHECK(list_dir(root, entries), "ImageFolder: cannot read root '", root,
            "': ", std::strerror(errno));
  std::vector<std::string> classes;
  for (Entry& e : entries) {
    if (e.is_dir) classes.push_back(std::move(e.name));
  }
  AFN_CHECK(!classes.empty(), "ImageFolder: found no class folder in '", root,
            "'; expected root/<class>/<image files>");
  std::sort(classes.begin(), classes.end());
  return classes;
}

std::string extension_list() {
  std::string s;
  for (std::string_view e : kImageExtensions) s += (s.empty() ? "" : ", ") + std::string(e);
  return s;
}

}  // namespace

std::string expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  const size_t slash = path.find('/');
  const std::string user = path.substr(1, slash == std::string::npos ? slash : slash - 1);
  std::string home;
  if (user.empty()) {
    // Python reads $HOME, then the password database.
    if (const char* env = std::getenv("HOME"))
      home = env;
    else if (const passwd* pw = getpwuid(getuid()))
      home = pw->pw_dir;
  } else if (const passwd* pw = getpwnam(user.c_str())) {
    home = pw->pw_dir;
  }
  if (home.empty()) return path;
  if (home.size() > 1 && home.back() == '/') home.pop_back();
  return slash == std::string::npos ? home : home + path.substr(slash);
}

std::string join_path(const std::string& a, const std::string& b) {
  return a.empty() || a.back() == '/' ? a + b : a + "/" + b;
}

bool has_image_extension(std::string_view name) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
  return std::any_of(kImageExtensions.begin(), kImageExtensions.end(), [&](std::string_view ext) {
    return name.size() >= ext.size() && std::equal(ext.begin(), ext.end(), name.end() - ext.size(),
                                                   [&](char e, char c) { return e == lower(c); });
  });
}

ImageFolder ImageFolder::open(const std::string& root) {
  AFN_CHECK(!root.empty(), "ImageFolder: the root folder is an empty string");
  ImageFolder ds;
  ds.root_ = expand_user(root);
  ds.classes_ = find_classes(ds.root_);
  std::vector<std::string> empty;
  for (size_t c = 0; c < ds.classes_.size(); ++c) {
    ds.class_to_idx_[ds.classes_[c]] = int64_t(c);
    std::vector<WalkedDir> dirs;
    std::vector<DirId> ancestors;
    walk(join_path(ds.root_, ds.classes_[c]), ancestors, dirs);
    // sorted(os.walk(...)): by the folder's whole path, byte order.
    std::sort(dirs.begin(), dirs.end(),
              [](const WalkedDir& a, const WalkedDir& b) { return a.path < b.path; });
    const size_t before = ds.samples_.size();
    for (const WalkedDir& d : dirs) {
      for (const std::string& f : d.files)
        ds.samples_.push_back({join_path(d.path, f), int64_t(c)});
    }
    if (ds.samples_.size() == before) empty.push_back(ds.classes_[c]);
  }
  if (!empty.empty()) {
    std::string names;
    for (const std::string& e : empty) names += (names.empty() ? "" : ", ") + e;
    AFN_FAIL("ImageFolder: found no valid file for the classes ", names, " in '", ds.root_,
             "'. Supported extensions are: ", extension_list());
  }
  return ds;
}

const Sample& ImageFolder::at(int64_t i) const {
  AFN_CHECK(i >= 0 && i < size(), "ImageFolder::at: index ", i, " out of range for ", size(),
            " samples in '", root_, "'");
  return samples_[size_t(i)];
}

std::vector<int64_t> ImageFolder::targets() const {
  std::vector<int64_t> t;
  t.reserve(samples_.size());
  for (const Sample& s : samples_) t.push_back(s.label);
  return t;
}

std::vector<int64_t> ImageFolder::class_counts() const {
  return data::class_counts(samples_, num_classes());
}

std::string ImageFolder::describe() const {
  std::ostringstream os;
  os << "ImageFolder '" << root_ << "': " << classes_.size() << " classes, " << samples_.size()
     << " images\n";
  const std::vector<int64_t> counts = class_counts();
  for (size_t c = 0; c < classes_.size(); ++c) {
    os << "  " << c << " " << classes_[c] << ": " << counts[c] << "\n";
  }
  return os.str();
}

std::vector<int64_t> class_counts(const std::vector<Sample>& samples, int64_t num_classes) {
  AFN_CHECK(num_classes >= 0, "class_counts: num_classes must be >= 0, got ", num_classes);
  std::vector<int64_t> counts(size_t(num_classes), 0);
  for (const Sample& s : samples) {
    AFN_CHECK(s.label >= 0 && s.label < num_classes, "class_counts: sample '", s.path,
              "' has label ", s.label, ", outside [0, ", num_classes, ")");
    ++counts[size_t(s.label)];
  }
  return counts;
}

}  // namespace afinar::data
