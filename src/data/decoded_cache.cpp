#include "afinar/data/decoded_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "afinar/data/decode.h"

namespace afinar::data {

// The file stores integers in the machine's byte order; every machine afinar targets is
// little-endian, which the format fixes.
static_assert(std::endian::native == std::endian::little, "decoded cache: little-endian only");

namespace {

constexpr char kMagic[8] = {'A', 'F', 'N', 'D', 'C', 'A', 'C', 'H'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kPixelAlignment = 64;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t entry_bytes;  // sizeof(Entry), a second check on the layout
  uint64_t count;
  uint64_t samples_hash;  // sample_hash(samples, options)
  int64_t resize;
  uint32_t interpolation;
  uint32_t reserved;
  uint64_t pixel_offset, pixel_bytes;
  uint64_t text_offset, text_bytes;
  uint64_t file_bytes;
  uint64_t index_hash;  // see index_hash()
};
static_assert(sizeof(Header) == 96);

// FNV-1a, 64-bit: a fingerprint for staleness and index corruption, not a cryptographic hash.
struct Fnv1a {
  uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  }
  void u64(uint64_t v) { bytes(&v, sizeof v); }
};

uint64_t sample_hash(const std::vector<Sample>& samples, const CacheOptions& options) {
  Fnv1a f;
  f.u64(uint64_t(options.resize));
  f.u64(uint64_t(options.interpolation));
  f.u64(samples.size());
  for (const Sample& s : samples) {
    f.u64(s.path.size());  // the length first, so ("ab","c") and ("a","bc") differ
    f.bytes(s.path.data(), s.path.size());
    f.u64(uint64_t(s.label));
  }
  return f.h;
}

uint64_t align_up(uint64_t n, uint64_t a) {
  return (n + a - 1) / a * a;
}

}  // namespace

struct DecodedCache::Entry {
  int64_t height, width, channels, label;
  uint64_t pixel_offset;  // from the start of the file
  uint64_t text_offset;   // from the start of the text region: the path, then the reason
  uint32_t path_bytes, reason_bytes;
};
constexpr size_t kEntryBytes = 56;  // sizeof(Entry), asserted in open()

namespace {

// The checksum of everything but the pixels: the header (with index_hash itself as 0), the
// entries and the text, so that any damaged byte of the index is caught.
uint64_t index_hash(Header h, const void* entries, const void* text) {
  h.index_hash = 0;
  Fnv1a f;
  f.bytes(&h, sizeof h);
  f.bytes(entries, h.count * kEntryBytes);
  f.bytes(text, h.text_bytes);
  return f.h;
}

}  // namespace

// ---- build
// ---------------------------------------------------------------------------------------

namespace {

// One sample's result, held only while its block is written.
struct Decoded {
  Image image;
  std::string reason;  // non-empty: the image could not be decoded
};

// A FILE* that removes its (temporary) file unless committed.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {
    f_ = std::fopen(path_.c_str(), "wb");
    AFN_CHECK(f_ != nullptr, "DecodedCache::build: cannot create '", path_,
              "': ", std::strerror(errno));
  }
  ~TempFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* p, size_t n) {
    AFN_CHECK(n == 0 || std::fwrite(p, 1, n, f_) == n, "DecodedCache::build: cannot write '", path_,
              "': ", std::strerror(errno));
  }
  void seek(uint64_t offset) {
    AFN_CHECK(std::fseek(f_, long(offset), SEEK_SET) == 0, "DecodedCache::build: cannot seek in '",
              path_, "': ", std::strerror(errno));
  }
  // Flushes to disk and renames to `final_path` (atomic on POSIX file systems).
  void commit(const std::string& final_path) {
    const bool ok = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
    const int err = errno;
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    AFN_CHECK(ok && closed, "DecodedCache::build: cannot write '", path_,
              "': ", std::strerror(ok ? errno : err));
    AFN_CHECK(std::rename(path_.c_str(), final_path.c_str()) == 0, "DecodedCache::build: cannot ",
              "rename '", path_, "' to '", final_path, "': ", std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Decodes samples [begin, end) on `threads` threads (each takes the next index).
std::vector<Decoded> decode_block(const std::vector<Sample>& samples, size_t begin, size_t end,
                                  const CacheOptions& options, int threads) {
  std::vector<Decoded> out(end - begin);
  std::atomic<size_t> next{begin};
  std::mutex failure_mutex;
  std::exception_ptr failure;  // anything but a decode error (out of memory) stops the build
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < end;) {
      Decoded& d = out[i - begin];
      try {
        Image im = decode_image(samples[i].path);
        d.image = options.resize > 0 ? data::resize(im, options.resize, options.interpolation)
                                     : std::move(im);
      } catch (const Error& e) {
        d.reason = error_summary(e);
      } catch (...) {
        const std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = end;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace

std::shared_ptr<DecodedCache> DecodedCache::build(const std::vector<Sample>& samples,
                                                  const std::string& path,
                                                  const CacheOptions& options) {
  AFN_CHECK(options.resize >= 0, "DecodedCache::build: resize must be >= 0, got ", options.resize);
  const int threads = std::max(
      1, options.num_threads > 0 ? options.num_threads : int(std::thread::hardware_concurrency()));
  const uint64_t n = samples.size();
  const uint64_t pixel_offset = align_up(sizeof(Header) + n * sizeof(Entry), kPixelAlignment);

  TempFile file(path + ".tmp." + std::to_string(getpid()));
  file.seek(pixel_offset);  // header and entries are written last, when their values are known
  std::vector<Entry> entries(n);
  std::string text;  // written after the pixels
  uint64_t offset = pixel_offset;
  // Blocks bound memory to a few dozen decoded images per thread whatever the dataset's size.
  const size_t block = size_t(32 * threads);
  for (size_t begin = 0; begin < n; begin += block) {
    const size_t end = std::min<size_t>(n, begin + block);
    std::vector<Decoded> decoded = decode_block(samples, begin, end, options, threads);
    for (size_t i = begin; i < end; ++i) {
      const Decoded& d = decoded[i - begin];
      Entry& e = entries[i];
      e = Entry{d.image.height,
                d.image.width,
                d.image.channels,
                samples[i].label,
                offset,
                text.size(),
                uint32_t(samples[i].path.size()),
                uint32_t(d.reason.size())};
      if (!d.reason.empty()) e.height = e.width = 0;
      text += samples[i].path;
      text += d.reason;
      file.write(d.image.data.data(), d.image.data.size());
      offset += d.image.data.size();
    }
  }
  file.write(text.data(), text.size());

  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.entry_bytes = sizeof(Entry);
  h.count = n;
  h.samples_hash = sample_hash(samples, options);
  h.resize = options.resize;
  h.interpolation = uint32_t(options.interpolation);
  h.pixel_offset = pixel_offset;
  h.pixel_bytes = offset - pixel_offset;
  h.text_offset = offset;
  h.text_bytes = text.size();
  h.file_bytes = offset + text.size();
  h.index_hash = index_hash(h, entries.data(), text.data());
  file.seek(0);
  file.write(&h, sizeof h);
  file.write(entries.data(), entries.size() * sizeof(Entry));
  file.commit(path);
  return open(path, samples, options);
}

// ---- open
// ----------------------------------------------------------------------------------------

std::shared_ptr<DecodedCache> DecodedCache::open(const std::string& path,
                                                 const std::vector<Sample>& samples,
                                                 const CacheOptions& options) {
  static_assert(sizeof(Entry) == kEntryBytes && alignof(Entry) <= 8);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  AFN_CHECK(fd >= 0, "DecodedCache::open: cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  const bool stat_ok = fstat(fd, &st) == 0;
  const size_t size = stat_ok ? size_t(st.st_size) : 0;
  if (!stat_ok || size < sizeof(Header)) ::close(fd);
  AFN_CHECK(stat_ok, "DecodedCache::open: cannot stat '", path, "': ", std::strerror(errno));
  AFN_CHECK(size >= sizeof(Header), "DecodedCache::open: '", path, "' is not a decoded cache (",
            size, " bytes, shorter than the header); delete it and rebuild the cache");
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  AFN_CHECK(map != MAP_FAILED, "DecodedCache::open: cannot map '", path, "': ", std::strerror(err));

  std::shared_ptr<DecodedCache> cache(new DecodedCache());
  cache->path_ = path;
  cache->map_ = static_cast<const uint8_t*>(map);
  cache->map_size_ = size;

  Header h;
  std::memcpy(&h, map, sizeof h);
  const std::string where = "DecodedCache::open: '" + path + "' ";
  const std::string rebuild = "; delete it and rebuild the cache (DecodedCache::build)";
  AFN_CHECK(std::memcmp(h.magic, kMagic, sizeof kMagic) == 0, where,
            "is not a decoded cache (wrong magic)", rebuild);
  AFN_CHECK(h.version == kVersion && h.entry_bytes == sizeof(Entry), where, "has format version ",
            h.version, ", this build reads version ", kVersion, rebuild);
  AFN_CHECK(h.file_bytes == size, where, "is truncated or corrupt: the header says ", h.file_bytes,
            " bytes, the file has ", size, rebuild);
  // Regions, in file order, each inside the file (no arithmetic here can overflow: every term is
  // checked against `size` before it is added).
  AFN_CHECK(h.count <= (size - sizeof(Header)) / sizeof(Entry), where,
            "is corrupt: its entry count ", h.count, " does not fit in the file", rebuild);
  const uint64_t entries_end = sizeof(Header) + h.count * sizeof(Entry);
  AFN_CHECK(h.pixel_offset >= entries_end && h.pixel_offset <= size &&
                h.pixel_bytes <= size - h.pixel_offset &&
                h.text_offset == h.pixel_offset + h.pixel_bytes &&
                h.text_bytes == size - h.text_offset,
            where, "is corrupt: its regions do not tile the file", rebuild);
  const auto* entries = reinterpret_cast<const Entry*>(cache->map_ + sizeof(Header));
  AFN_CHECK(index_hash(h, entries, cache->map_ + h.text_offset) == h.index_hash, where,
            "is corrupt: its index does not match its checksum", rebuild);
  // The checksum makes a damaged index unlikely; the bounds below make one harmless.
  uint64_t next_pixel = h.pixel_offset, next_text = 0;
  int64_t bad = 0;
  for (uint64_t i = 0; i < h.count; ++i) {
    const Entry& e = entries[i];
    const bool dims_ok = e.height >= 0 && e.width >= 0 && e.channels >= 1 && e.channels <= 4 &&
                         e.height <= (int64_t(1) << 31) && e.width <= (int64_t(1) << 31);
    const uint64_t bytes =
        dims_ok ? uint64_t(e.height) * uint64_t(e.width) * uint64_t(e.channels) : 0;
    AFN_CHECK(dims_ok && e.pixel_offset == next_pixel && bytes <= h.text_offset - next_pixel &&
                  e.text_offset == next_text &&
                  e.path_bytes + uint64_t(e.reason_bytes) <= h.text_bytes - next_text &&
                  (e.reason_bytes == 0 || bytes == 0),
              where, "is corrupt: entry ", i, " points outside its region", rebuild);
    next_pixel += bytes;
    next_text += e.path_bytes + uint64_t(e.reason_bytes);
    bad += e.reason_bytes > 0;
  }
  AFN_CHECK(next_pixel == h.text_offset && next_text == h.text_bytes, where,
            "is corrupt: its entries do not cover its regions", rebuild);

  // Staleness last: only a well-formed cache can be judged stale.
  AFN_CHECK(h.samples_hash == sample_hash(samples, options), where, "is stale: it was built for ",
            h.count, " samples with resize=", h.resize,
            " and a sample list or resize setting other than the current ", samples.size(),
            " samples with resize=", options.resize,
            "; rebuild it with DecodedCache::build (or delete the file)");
  cache->entries_ = entries;
  cache->count_ = int64_t(h.count);
  cache->resize_ = h.resize;
  cache->bad_count_ = bad;
  cache->text_ = reinterpret_cast<const char*>(cache->map_ + h.text_offset);
  return cache;
}

std::shared_ptr<DecodedCache> DecodedCache::open_or_build(const std::vector<Sample>& samples,
                                                          const std::string& path,
                                                          const CacheOptions& options) {
  return std::filesystem::exists(path) ? open(path, samples, options)
                                       : build(samples, path, options);
}

DecodedCache::~DecodedCache() {
  if (map_) munmap(const_cast<uint8_t*>(map_), map_size_);
}

// ---- access
// --------------------------------------------------------------------------------------

const DecodedCache::Entry& DecodedCache::entry(int64_t i) const {
  AFN_CHECK(i >= 0 && i < count_, "DecodedCache: index ", i, " is out of range for ", count_,
            " images in '", path_, "'");
  return entries_[i];
}

const DecodedCache::Entry& DecodedCache::good_entry(int64_t i) const {
  const Entry& e = entry(i);
  AFN_CHECK(e.reason_bytes == 0, "DecodedCache: image ", i, " (", original_path(i),
            ") could not be decoded when '", path_, "' was built: ", bad_reason(i));
  return e;
}

bool DecodedCache::is_bad(int64_t i) const {
  return entry(i).reason_bytes > 0;
}
int64_t DecodedCache::label(int64_t i) const {
  return entry(i).label;
}

std::string_view DecodedCache::original_path(int64_t i) const {
  const Entry& e = entry(i);
  return {text_ + e.text_offset, e.path_bytes};
}

std::string_view DecodedCache::bad_reason(int64_t i) const {
  const Entry& e = entry(i);
  return {text_ + e.text_offset + e.path_bytes, e.reason_bytes};
}

ImageSize DecodedCache::image_size(int64_t i) const {
  const Entry& e = entry(i);
  return {e.height, e.width};
}

std::span<const uint8_t> DecodedCache::pixels(int64_t i) const {
  const Entry& e = good_entry(i);
  return {map_ + e.pixel_offset, size_t(e.height * e.width * e.channels)};
}

Image DecodedCache::image(int64_t i) const {
  const Entry& e = good_entry(i);
  Image im;
  im.height = e.height;
  im.width = e.width;
  im.channels = e.channels;
  const uint8_t* p = map_ + e.pixel_offset;
  im.data.assign(p, p + e.height * e.width * e.channels);
  return im;
}

// ---- loader source
// -------------------------------------------------------------------------------

ExampleFn cached_source(std::shared_ptr<const DecodedCache> cache, Compose transform) {
  AFN_CHECK(cache != nullptr, "cached_source: the cache is null");
  auto pipeline = std::make_shared<const Compose>(std::move(transform));
  return [cache, pipeline](int64_t i, Generator& gen) {
    return Example{(*pipeline)(cache->image(i), gen), cache->label(i)};
  };
}

}  // namespace afinar::data
