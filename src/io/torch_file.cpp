// torch.save files: container detection, the three containers, tensor encodings, conversion, the
// zip writer side and torchvision's hash check (see include/afinar/io/torch_file.h).
//
// Loading runs in three phases so that every container shares the checks:
//   1. the pickle is interpreted into Pending tensors that name a storage by key (and legacy
//      view_metadata into storage views);
//   2. the container maps each storage key to its bytes in the file mapping;
//   3. each Pending tensor is checked against its storage (shape, strides, offset, sizes that
//      would overflow) and becomes a TorchTensorRecord.
#include "afinar/io/torch_file.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "afinar/core/check.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/sha256.h"
#include "afinar/io/zip.h"

namespace afinar::io {

namespace {

constexpr size_t kMaxDims = 64;
// Elements a file's tensors may materialise beyond the bytes it holds: views that repeat storage
// elements (stride 0, as torch.save keeps an expanded tensor) are legal, but from a few bytes they
// could ask for terabytes. 2^24 elements = 64 MiB of float32 of slack.
constexpr int64_t kMaxRepeatedElements = int64_t(1) << 24;
// Storage keys are what torch writes: decimal numbers (zip), or ids of letters, digits and '_'
// (legacy, tar); anything else (a path such as "../x", a NUL) is refused, and so is a long one.
constexpr size_t kMaxStorageKey = 64;

// ---- checked arithmetic -----------------------------------------------------------------------

int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  int64_t r = 0;
  AFN_CHECK(!__builtin_mul_overflow(a, b, &r), what, ": sizes overflow 64-bit arithmetic (", a,
            " x ", b, "); the file is corrupt");
  return r;
}

int64_t checked_add(int64_t a, int64_t b, const std::string& what) {
  int64_t r = 0;
  AFN_CHECK(!__builtin_add_overflow(a, b, &r), what, ": sizes overflow 64-bit arithmetic (", a,
            " + ", b, "); the file is corrupt");
  return r;
}

bool is_row_major(const Shape& shape, const Strides& strides) {
  int64_t expected = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

// ---- element decoding -------------------------------------------------------------------------

template <typename T>
T load(const uint8_t* p, bool swap) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// IEEE binary16 -> binary32, exact (every half is a float).
float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float f = std::ldexp(float(mantissa), -24);
    return sign ? -f : f;
  }
  const uint32_t bits = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)  // inf / nan
                                       : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

// Calls fn(element index in the storage) for each element in row-major order.
template <typename Fn>
void for_each_element(const Shape& shape, const Strides& strides, int64_t offset, Fn&& fn) {
  if (numel_of(shape) == 0) return;
  const size_t nd = shape.size();
  if (nd == 0) return fn(offset);
  std::vector<int64_t> index(nd, 0);
  int64_t base = offset;
  const int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  while (true) {
    for (int64_t k = 0; k < inner; ++k) fn(base + k * inner_stride);
    size_t d = nd - 1;
    while (true) {  // the odometer over the outer dimensions
      if (d == 0) return;
      --d;
      if (++index[d] < shape[d]) {
        base += strides[d];
        break;
      }
      base -= (shape[d] - 1) * strides[d];
      index[d] = 0;
    }
  }
}

// Gathers the record's elements into `out`, converting each with static_cast (what torch's
// .float() / .long() do).
template <typename Dst>
void convert_into(const TorchTensorRecord& r, Dst* out) {
  const bool swap = r.big_endian;
  const uint8_t* base = r.storage.data;
  auto run = [&](auto decode, size_t element) {
    int64_t i = 0;
    for_each_element(r.shape, r.strides, r.offset, [&](int64_t e) {
      out[i++] = static_cast<Dst>(decode(base + size_t(e) * element));
    });
  };
  switch (r.scalar) {
    case TorchScalar::Float:
      return run([&](const uint8_t* p) { return load<float>(p, swap); }, 4);
    case TorchScalar::Double:
      return run([&](const uint8_t* p) { return load<double>(p, swap); }, 8);
    case TorchScalar::Half:
      return run([&](const uint8_t* p) { return half_to_float(load<uint16_t>(p, swap)); }, 2);
    case TorchScalar::BFloat16:
      return run(
          [&](const uint8_t* p) { return float(BFloat16::from_bits(load<uint16_t>(p, swap))); }, 2);
    case TorchScalar::Long:
      return run([&](const uint8_t* p) { return load<int64_t>(p, swap); }, 8);
    case TorchScalar::Int:
      return run([&](const uint8_t* p) { return load<int32_t>(p, swap); }, 4);
    case TorchScalar::Short:
      return run([&](const uint8_t* p) { return load<int16_t>(p, swap); }, 2);
    case TorchScalar::Char:
      return run([&](const uint8_t* p) { return load<int8_t>(p, false); }, 1);
    case TorchScalar::Byte:
      return run([&](const uint8_t* p) { return load<uint8_t>(p, false); }, 1);
    case TorchScalar::Bool:
      return run([&](const uint8_t* p) { return uint8_t(*p != 0); }, 1);
  }
}

bool is_integral(TorchScalar s) {
  return s != TorchScalar::Float && s != TorchScalar::Double && s != TorchScalar::Half &&
         s != TorchScalar::BFloat16;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// ---- records ----------------------------------------------------------------------------------

DType TorchTensorRecord::target_dtype() const {
  return ends_with(key, "num_batches_tracked") ? DType::I64 : DType::F32;
}

std::optional<ByteSpan> TorchTensorRecord::in_place() const {
  const DType target = target_dtype();
  const bool same_type = (target == DType::F32 && scalar == TorchScalar::Float) ||
                         (target == DType::I64 && scalar == TorchScalar::Long);
  if (!same_type || big_endian || !is_row_major(shape, strides)) return std::nullopt;
  const auto element = uint64_t(element_size(scalar));
  return storage.sub(uint64_t(offset) * element, uint64_t(numel()) * element, key.c_str());
}

Tensor TorchTensorRecord::materialize() const {
  // The allocator reports a tensor that does not fit (a view with zero strides can ask for far
  // more than its storage holds) as afinar::Error.
  Tensor t = empty(shape, target_dtype());
  if (target_dtype() == DType::I64) {
    AFN_CHECK(is_integral(scalar), storage.source ? *storage.source : "", ": '", key,
              "' is stored as ", torch_storage_name(scalar),
              " but a batch counter must be an integer storage");
    convert_into(*this, t.data<int64_t>());
  } else {
    convert_into(*this, t.data<float>());
  }
  return t;
}

// ---- phase 1: the pickle ----------------------------------------------------------------------

namespace {

struct Pending {
  std::string name, storage_key;
  int64_t offset = 0;
  Shape shape;
  Strides strides;
};

struct StorageData {
  TorchScalar scalar;
  ByteSpan bytes;
  int64_t numel;
};

struct ViewDef {
  std::string root;
  int64_t offset, size;
};

std::string key_string(const PickleValue& v, const char* what) {
  if (v.is(PickleValue::Kind::Int)) return std::to_string(v.integer);
  return v.str(what);
}

std::vector<int64_t> int_list(const PickleValue& v, const std::string& what) {
  std::vector<int64_t> out;
  for (const PickleValue* x : v.tuple(what.c_str())) out.push_back(x->to_int(what.c_str()));
  return out;
}

// A storage key, checked against what torch writes (kMaxStorageKey).
std::string storage_key(const PickleValue& v, const std::string& path) {
  const std::string key = key_string(v, "storage key");
  const bool plain = !key.empty() && key.size() <= kMaxStorageKey &&
                     std::all_of(key.begin(), key.end(),
                                 [](char c) { return std::isalnum(uint8_t(c)) || c == '_'; });
  std::string shown = key.substr(0, kMaxStorageKey);  // printable: a NUL would cut the message
  for (char& c : shown)
    if (!std::isprint(uint8_t(c))) c = '?';
  AFN_CHECK(plain, path, ": storage key '", shown,
            "' is not a torch storage key (letters, digits and '_', at most ", kMaxStorageKey,
            " characters); the file is hostile or corrupt");
  return key;
}

class Loader {
 public:
  // `file_size` bounds what the tensors may materialise (kMaxRepeatedElements).
  Loader(std::string path, uint64_t file_size) : path_(std::move(path)), file_size_(file_size) {}

  // ---- phase 1 ----
  void read_state_dict(const PickleValue& root) {
    AFN_CHECK(root.is(PickleValue::Kind::Dict), path_, " holds ", root.describe(),
              ", not a state_dict (a dict of tensor names to tensors)");
    const PickleValue* sd = &root;
    for (const char* nested : {"state_dict", "model"}) {  // training checkpoints
      const PickleValue* v = root.get(nested);
      if (v && v->is(PickleValue::Kind::Dict)) {
        sd = v;
        break;
      }
    }
    std::set<std::string> names;
    for (const auto& [k, v] : sd->entries) {
      AFN_CHECK(k->is(PickleValue::Kind::String) || k->is(PickleValue::Kind::Bytes), path_,
                ": a state_dict key is ", k->describe(), ", not a string");
      const std::string name = k->text;
      AFN_CHECK(names.insert(name).second, path_, ": the state_dict key '", name,
                "' appears twice; the file is corrupt or hostile");
      pending_.push_back(tensor_of(*v, name, 0));
      pending_.back().name = name;
    }
  }

  // Declares every storage the object refers to, inside the state_dict or not (a checkpoint's
  // optimizer state): the legacy format lists them all, and skipping one needs its element size.
  void declare_every_storage(const PickleValue& root) {
    std::vector<const PickleValue*> todo = {&root};
    std::set<const PickleValue*> seen;  // the memo can make cycles
    while (!todo.empty()) {
      const PickleValue* v = todo.back();
      todo.pop_back();
      if (!seen.insert(v).second) continue;
      if (v->is(PickleValue::Kind::PersistentId)) {
        const PickleValue& id = *v->items[0];
        if (id.is(PickleValue::Kind::Tuple) && !id.items.empty() &&
            id.items[0]->is(PickleValue::Kind::String) && id.items[0]->text == "storage")
          storage_of(id, path_ + ": a storage outside the state_dict");
        continue;
      }
      for (const PickleValue* x : v->items) todo.push_back(x);
      for (const auto& [k, x] : v->entries) todo.push_back(x);
      if (v->state) todo.push_back(v->state);
    }
  }

  // ---- phase 2 inputs ----
  const std::map<std::string, std::pair<TorchScalar, int64_t>>& declared() const {
    return declared_;
  }
  void add_storage(const std::string& key, StorageData s) { storages_.emplace(key, s); }
  void add_view(const std::string& key, ViewDef v) { views_.emplace(key, std::move(v)); }
  void add_tar_tensor(const std::string& key, Pending p) {
    tar_tensors_.emplace(key, std::move(p));
  }

  // ---- phase 3 ----
  std::vector<TorchTensorRecord> finish(bool big_endian) {
    resolve_views();
    std::vector<TorchTensorRecord> out;
    out.reserve(pending_.size());
    int64_t total = 0;
    for (const Pending& p : pending_) {
      out.push_back(record(p, big_endian));
      total = checked_add(total, out.back().numel(), path_);
      AFN_CHECK(uint64_t(total) <= file_size_ + uint64_t(kMaxRepeatedElements), path_,
                ": its tensors hold ", total, " elements up to '", p.name, "' but the file has ",
                file_size_, " bytes: views that repeat storage elements may add at most ",
                kMaxRepeatedElements, "; the file is hostile or corrupt");
    }
    return out;
  }

 private:
  Pending tensor_of(const PickleValue& v, const std::string& name, int depth) {
    using K = PickleValue::Kind;
    if (v.is(K::PersistentId) && !tar_tensors_.empty()) {  // tar: the id names a tensor
      const std::string id = key_string(*v.items[0], "tensor id");
      auto it = tar_tensors_.find(id);
      AFN_CHECK(it != tar_tensors_.end(), path_, ": '", name, "' refers to tensor ", id,
                ", which the tensors table does not hold");
      return it->second;
    }
    AFN_CHECK(v.is(K::Call), path_, ": '", name, "' holds ", v.describe(), ", not a tensor");
    const std::string& target = v.text;
    const std::string what = path_ + ": '" + name + "'";
    if (target == "torch._utils._rebuild_parameter") {
      AFN_CHECK(depth == 0 && !v.items.empty(), what, ": malformed _rebuild_parameter");
      return tensor_of(*v.items[0], name, depth + 1);
    }
    if ((target == "torch._utils._rebuild_tensor_v2" && v.items.size() >= 4) ||
        (target == "torch._utils._rebuild_tensor" && v.items.size() == 4))
      return from_args(v.items, what);
    if (v.new_object && ends_with(target, "Tensor") && torch_scalar_of_global(target)) {
      // torch 0.1.10: torch.FloatTensor.__new__() then BUILD (storage, offset, size, stride).
      AFN_CHECK(v.state != nullptr, what, ": ", target, " object without BUILD state");
      const auto& state = v.state->tuple((what + ": state of " + target).c_str());
      AFN_CHECK(state.size() == 4, what, ": ", target, " state has ", state.size(),
                " items, expected (storage, offset, size, stride)");
      return from_args(state, what);
    }
    AFN_FAIL(what, " is made by ", target, " with ", v.items.size(),
             " arguments, which is not a tensor encoding afinar reads");
  }

  Pending from_args(const std::vector<PickleValue*>& args, const std::string& what) {
    Pending p;
    AFN_CHECK(args[0]->is(PickleValue::Kind::PersistentId), what, ": the storage argument is ",
              args[0]->describe(), ", not a persistent storage id");
    p.storage_key = storage_of(*args[0]->items[0], what);
    p.offset = args[1]->to_int((what + " storage offset").c_str());
    p.shape = int_list(*args[2], what + " size");
    p.strides = int_list(*args[3], what + " stride");
    return p;
  }

  // ('storage', torch.<T>Storage, key, location, numel[, view_metadata]) -> the storage's key.
  std::string storage_of(const PickleValue& id, const std::string& what) {
    const auto& items = id.tuple((what + " storage id").c_str());
    AFN_CHECK(!items.empty(), what, ": empty persistent id");
    const std::string type_name = items[0]->str("persistent id type");
    AFN_CHECK(type_name != "module", what,
              ": the file holds a whole module (torch.save(model)); save model.state_dict()");
    AFN_CHECK(type_name == "storage" && (items.size() == 5 || items.size() == 6), what,
              ": unknown persistent id ('", type_name, "' with ", items.size(), " items)");
    AFN_CHECK(items[1]->is(PickleValue::Kind::Global) && ends_with(items[1]->text, "Storage"), what,
              ": the storage type is ", items[1]->describe(), ", not a torch storage class");
    const TorchScalar scalar = *torch_scalar_of_global(items[1]->text);
    const std::string key = storage_key(*items[2], path_);
    const int64_t numel = items[4]->to_int("storage size");
    AFN_CHECK(numel >= 0, what, ": storage '", key, "' has negative size ", numel);
    auto [it, inserted] = declared_.emplace(key, std::make_pair(scalar, numel));
    AFN_CHECK(inserted || it->second.first == scalar, what, ": storage '", key,
              "' is used both as ", torch_storage_name(it->second.first), " and as ",
              torch_storage_name(scalar));
    if (items.size() == 6 && !items[5]->is(PickleValue::Kind::None)) {
      // Legacy view_metadata (view_key, offset, size): a storage that is a slice of the root.
      const auto& view = items[5]->tuple((what + " view_metadata").c_str());
      AFN_CHECK(view.size() == 3, what, ": view_metadata has ", view.size(), " items, expected 3");
      const std::string view_key = storage_key(*view[0], path_);
      views_.emplace(view_key,
                     ViewDef{key, view[1]->to_int("view offset"), view[2]->to_int("view size")});
      return view_key;
    }
    return key;
  }

  // Storage views (legacy view_metadata, tar storage_views) become storages of their own.
  void resolve_views() {
    for (const auto& [key, v] : views_) {
      if (storages_.count(key)) continue;
      auto root = storages_.find(v.root);
      AFN_CHECK(root != storages_.end(), path_, ": storage view '", key, "' refers to storage '",
                v.root, "', which has no data");
      const StorageData& r = root->second;
      AFN_CHECK(v.offset >= 0 && v.size >= 0 && v.offset <= r.numel && v.size <= r.numel - v.offset,
                path_, ": storage view '", key, "' covers elements [", v.offset, ", ", v.offset,
                " + ", v.size, ") of storage '", v.root, "', which holds ", r.numel);
      const auto element = uint64_t(element_size(r.scalar));
      storages_.emplace(key, StorageData{r.scalar,
                                         r.bytes.sub(uint64_t(v.offset) * element,
                                                     uint64_t(v.size) * element, "storage view"),
                                         v.size});
    }
  }

  TorchTensorRecord record(const Pending& p, bool big_endian) {
    const std::string what = path_ + ": tensor '" + p.name + "'";
    auto it = storages_.find(p.storage_key);
    AFN_CHECK(it != storages_.end(), what, " uses storage '", p.storage_key,
              "', which the file does not contain");
    const StorageData& s = it->second;
    AFN_CHECK(p.shape.size() == p.strides.size(), what, " has ", p.shape.size(), " sizes but ",
              p.strides.size(), " strides");
    AFN_CHECK(p.shape.size() <= kMaxDims, what, " has ", p.shape.size(), " dimensions");
    AFN_CHECK(p.offset >= 0, what, " has negative storage offset ", p.offset);
    // The last element addressed: offset + sum((size - 1) * stride); it must lie in the storage.
    int64_t numel = 1, last = p.offset;
    for (size_t d = 0; d < p.shape.size(); ++d) {
      AFN_CHECK(p.shape[d] >= 0 && p.strides[d] >= 0, what, " has size ", p.shape, " and stride ",
                p.strides, ": negative values");
      numel = checked_mul(numel, p.shape[d], what);
      if (p.shape[d] > 0)
        last = checked_add(last, checked_mul(p.shape[d] - 1, p.strides[d], what), what);
    }
    checked_mul(numel, 8, what);  // its converted bytes (float32 or int64) must be countable
    AFN_CHECK(numel == 0 || last < s.numel, what, " (shape ", p.shape, ", stride ", p.strides,
              ", offset ", p.offset, ") reads storage element ", last, " but storage '",
              p.storage_key, "' holds only ", s.numel,
              " elements; the file is truncated or corrupt");
    TorchTensorRecord r;
    r.key = p.name;
    r.scalar = s.scalar;
    r.shape = p.shape;
    r.strides = p.strides;
    r.offset = p.offset;
    r.storage = s.bytes;
    r.big_endian = big_endian;
    return r;
  }

  std::string path_;
  uint64_t file_size_;
  std::vector<Pending> pending_;
  std::map<std::string, std::pair<TorchScalar, int64_t>> declared_;  // root key -> type, numel
  std::map<std::string, ViewDef> views_;
  std::map<std::string, StorageData> storages_;
  std::map<std::string, Pending> tar_tensors_;
};

// Bytes of `numel` elements of `scalar`, overflow-checked.
uint64_t storage_bytes(TorchScalar scalar, int64_t numel, const std::string& what) {
  return uint64_t(checked_mul(numel, int64_t(element_size(scalar)), what));
}

// ---- phase 2: containers ----------------------------------------------------------------------

bool zip_big_endian(const ZipReader& zip, const std::string& prefix) {
  const ZipEntry* e = zip.find(prefix + "/byteorder");
  if (!e) return false;  // absent: little-endian (torch < 2.1)
  const std::string_view order = zip.read(*e).view();
  AFN_CHECK(order == "little" || order == "big", zip.path(), ": byteorder entry holds '", order,
            "', expected 'little' or 'big'");
  return order == "big";
}

// What torch.save writes and nothing else: names relative, without '..' or '\\', each once, and
// entries whose data do not overlap (two names for the same bytes, or an entry inside another).
// Nothing is ever extracted to disk, but a name that could be is a sign of a crafted archive.
void check_archive(const ZipReader& zip) {
  const std::string& path = zip.path();
  std::set<std::string_view> names;
  std::vector<const ZipEntry*> by_offset;
  for (const ZipEntry& e : zip.entries()) {
    const std::string& n = e.name;
    const bool traversal = n.empty() || n[0] == '/' || n.find('\\') != std::string::npos ||
                           n.find('\0') != std::string::npos || n == ".." ||
                           n.compare(0, 3, "../") == 0 || n.find("/../") != std::string::npos ||
                           ends_with(n, "/..");
    AFN_CHECK(!traversal, path, ": zip entry name '", n.substr(0, n.find('\0')),
              "' is absolute, climbs out of the archive ('..') or holds '\\' or NUL; torch.save "
              "never writes one, the file is hostile or corrupt");
    AFN_CHECK(names.insert(n).second, path, ": zip entry '", n, "' appears twice");
    if (e.compressed_size > 0) by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->data_offset < b->data_offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const ZipEntry& a = *by_offset[i - 1];
    const ZipEntry& b = *by_offset[i];
    AFN_CHECK(b.data_offset - a.data_offset >= a.compressed_size, path, ": zip entries '", a.name,
              "' and '", b.name, "' overlap (data at bytes ", a.data_offset, " + ",
              a.compressed_size, " and ", b.data_offset, "); the file is hostile or corrupt");
  }
}

std::vector<TorchTensorRecord> load_zip(const std::shared_ptr<const MappedFile>& file) {
  ZipReader zip(file);
  AFN_CHECK(!zip.entries().empty(), file->path(), ": the zip archive is empty");
  check_archive(zip);
  const std::string& first = zip.entries().front().name;
  AFN_CHECK(first.find('/') != std::string::npos, file->path(), ": zip entry '", first,
            "' has no folder prefix; this is not a torch.save archive");
  const std::string prefix = first.substr(0, first.find('/'));
  const ZipEntry& pkl = zip.at(prefix + "/data.pkl");
  Loader loader(file->path(), file->size());
  const Pickle pickle = Pickle::parse(zip.read(pkl), file->path() + ": " + pkl.name);
  loader.read_state_dict(pickle.root());
  for (const auto& [key, declared] : loader.declared()) {
    const auto [scalar, numel] = declared;
    const ZipEntry& e = zip.at(prefix + "/data/" + key);
    const ByteSpan bytes = zip.read(e);
    const uint64_t need = storage_bytes(scalar, numel, file->path() + ": storage " + key);
    AFN_CHECK(bytes.size >= need, file->path(), ": storage '", key, "' declares ", numel, " ",
              torch_storage_name(scalar), " elements (", need, " bytes) but entry ", e.name,
              " holds ", bytes.size, " bytes; the file is truncated or corrupt");
    loader.add_storage(key, {scalar, bytes.sub(0, need, "storage"), numel});
  }
  return loader.finish(zip_big_endian(zip, prefix));
}

// The legacy magic number 0x1950a86a20f9469cfc6c as LONG1 stores it (little-endian).
constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocol = 1001;

// Parses the pickle starting at `pos` and moves `pos` past it.
Pickle next_pickle(const ByteSpan& all, uint64_t& pos, const std::string& what) {
  Pickle p = Pickle::parse(all.sub(pos, all.size - pos, what.c_str()), what);
  pos += p.consumed();
  return p;
}

bool sys_info_big_endian(const PickleValue& sys_info, const std::string& path) {
  const PickleValue* little = sys_info.get("little_endian");
  if (!little) return false;
  AFN_CHECK(little->is(PickleValue::Kind::Bool), path, ": sys_info little_endian is ",
            little->describe());
  return !little->boolean;
}

std::vector<TorchTensorRecord> load_legacy(const std::shared_ptr<const MappedFile>& file) {
  const ByteSpan all = file->bytes();
  const std::string& path = file->path();
  uint64_t pos = 0;
  const Pickle magic = next_pickle(all, pos, path + ": magic number");
  AFN_CHECK(magic.root().is(PickleValue::Kind::BigInt) &&
                magic.root().text == std::string_view(reinterpret_cast<const char*>(kLegacyMagic),
                                                      sizeof(kLegacyMagic)),
            path, ": not a torch.save file: it starts with a pickle of ", magic.root().describe(),
            " where the legacy format has its magic number 0x1950a86a20f9469cfc6c");
  const Pickle protocol = next_pickle(all, pos, path + ": protocol version");
  AFN_CHECK(
      protocol.root().is(PickleValue::Kind::Int) && protocol.root().integer == kLegacyProtocol,
      path, ": legacy protocol version is ", protocol.root().describe(), ", expected 1001");
  const Pickle sys_info = next_pickle(all, pos, path + ": sys_info");
  const bool big_endian = sys_info_big_endian(sys_info.root(), path);
  Loader loader(path, file->size());
  const Pickle object = next_pickle(all, pos, path + ": object pickle");
  loader.read_state_dict(object.root());
  loader.declare_every_storage(object.root());
  const Pickle keys = next_pickle(all, pos, path + ": storage key list");
  // The storages follow in the listed order: int64 element count, then the raw elements.
  std::set<std::string> seen;
  for (const PickleValue* k : keys.root().tuple("storage key list")) {
    const std::string key = storage_key(*k, path);
    AFN_CHECK(!seen.count(key), path, ": storage '", key, "' is listed twice");
    auto it = loader.declared().find(key);
    AFN_CHECK(it != loader.declared().end(), path, ": storage '", key,
              "' is listed but no tensor refers to it, so its element size is unknown");
    const auto [scalar, numel] = it->second;
    uint64_t count = all.u64(pos, "storage element count");
    if (big_endian) count = __builtin_bswap64(count);
    AFN_CHECK(count == uint64_t(numel), path, ": storage '", key, "' declares ", numel,
              " elements but its data holds ", int64_t(count), "; the file is corrupt");
    const uint64_t nbytes = storage_bytes(scalar, numel, path + ": storage " + key);
    loader.add_storage(key, {scalar, all.sub(pos + 8, nbytes, "storage data"), numel});
    pos += 8 + nbytes;
    seen.insert(key);
  }
  for (const auto& [key, declared] : loader.declared())
    AFN_CHECK(seen.count(key), path, ": storage '", key, "' is used by a tensor but has no data");
  return loader.finish(big_endian);
}

// ---- tar (torch < 0.1.11) ----

uint64_t tar_octal(const ByteSpan& field, const std::string& what) {
  uint64_t v = 0;
  bool any = false;
  for (size_t i = 0; i < field.size; ++i) {
    const char c = char(field.data[i]);
    if (c == ' ' && !any) continue;
    if (c == '\0' || c == ' ') break;
    AFN_CHECK(c >= '0' && c <= '7' && v < (uint64_t(1) << 60), what, ": bad octal number");
    v = v * 8 + uint64_t(c - '0');
    any = true;
  }
  return v;
}

std::string c_string(const ByteSpan& field) {
  const auto* end = static_cast<const uint8_t*>(std::memchr(field.data, 0, field.size));
  return std::string(reinterpret_cast<const char*>(field.data),
                     end ? size_t(end - field.data) : field.size);
}

// The regular files of a (PAX / ustar) tar archive: name -> bytes.
std::map<std::string, ByteSpan> read_tar(const ByteSpan& all, const std::string& path) {
  std::map<std::string, ByteSpan> files;
  std::string pax_path;
  uint64_t pos = 0;
  while (true) {
    // A tar archive ends with zero blocks; running out of bytes before one means truncation.
    AFN_CHECK(pos + 512 <= all.size, path, ": the tar archive ends at byte ", all.size,
              " without its end-of-archive block; the file is truncated");
    const ByteSpan h = all.sub(pos, 512, "tar header");
    if (std::all_of(h.data, h.data + 512, [](uint8_t b) { return b == 0; })) break;
    // Header checksum: the sum of all bytes with the checksum field read as spaces.
    uint64_t sum = 0;
    for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? uint8_t(' ') : h.data[i];
    AFN_CHECK(sum == tar_octal(h.sub(148, 8, "tar checksum"), path), path, ": tar header at byte ",
              pos, " fails its checksum; the file is corrupt");
    const uint64_t size = tar_octal(h.sub(124, 12, "tar size"), path);
    const char type = char(h.data[156]);
    const ByteSpan body = all.sub(pos + 512, size, "tar member");
    pos += 512 + (size + 511) / 512 * 512;
    if (type == 'x') {  // PAX extended header for the next member: "LEN key=value\n" records
      for (uint64_t at = 0; at < body.size;) {
        const std::string_view rest = body.sub(at, body.size - at, "pax record").view();
        const size_t space = rest.find(' ');
        uint64_t len = 0;
        bool digits = space != std::string_view::npos && space > 0 && space < 20;
        for (size_t i = 0; digits && i < space; ++i) {
          digits = rest[i] >= '0' && rest[i] <= '9';
          len = len * 10 + uint64_t(rest[i] - '0');
        }
        AFN_CHECK(digits && len >= space + 2 && len <= rest.size(), path, ": malformed PAX header");
        const std::string_view record = rest.substr(space + 1, len - space - 2);
        if (record.substr(0, 5) == "path=") pax_path = std::string(record.substr(5));
        at += len;
      }
      continue;
    }
    if (type != '0' && type != '\0') continue;  // directories, links, global headers
    std::string name = c_string(h.sub(0, 100, "tar name"));
    const std::string prefix = c_string(h.sub(345, 155, "tar prefix"));
    if (!prefix.empty()) name = prefix + "/" + name;
    if (!pax_path.empty()) name = std::exchange(pax_path, "");
    files[name] = body;
  }
  return files;
}

std::vector<TorchTensorRecord> load_tar(const std::shared_ptr<const MappedFile>& file) {
  const std::string& path = file->path();
  const auto files = read_tar(file->bytes(), path);
  auto member = [&](const std::string& name) {
    auto it = files.find(name);
    AFN_CHECK(it != files.end(), path, ": the tar archive has no '", name,
              "' member; it is not a torch.save file");
    return it->second;
  };
  bool big_endian = false;
  if (files.count("sys_info"))
    big_endian =
        sys_info_big_endian(Pickle::parse(member("sys_info"), path + ": sys_info").root(), path);
  Loader loader(path, file->size());
  // storages: count, then per storage a pickle (key, location, type) + int64 count + elements,
  // then the list of views (view key, root key, offset, size).
  const ByteSpan storages = member("storages");
  uint64_t pos = 0;
  const int64_t n_storages = next_pickle(storages, pos, path + ": storages").root().to_int("count");
  for (int64_t i = 0; i < n_storages; ++i) {
    const Pickle header = next_pickle(storages, pos, path + ": storage header");
    const auto& h = header.root().tuple("storage header");
    AFN_CHECK(
        h.size() == 3 && h[2]->is(PickleValue::Kind::Global) && ends_with(h[2]->text, "Storage"),
        path, ": malformed storage header ", header.root().describe());
    const TorchScalar scalar = *torch_scalar_of_global(h[2]->text);
    const std::string key = storage_key(*h[0], path);
    uint64_t count = storages.u64(pos, "storage element count");
    if (big_endian) count = __builtin_bswap64(count);
    AFN_CHECK(count <= uint64_t(INT64_MAX), path, ": storage '", key, "' has ", count,
              " elements; the file is corrupt");
    const uint64_t nbytes = storage_bytes(scalar, int64_t(count), path + ": storage " + key);
    loader.add_storage(key,
                       {scalar, storages.sub(pos + 8, nbytes, "storage data"), int64_t(count)});
    pos += 8 + nbytes;
  }
  const Pickle views = next_pickle(storages, pos, path + ": storage views");
  for (const PickleValue* v : views.root().tuple("storage views")) {
    const auto& t = v->tuple("storage view");
    AFN_CHECK(t.size() == 4, path, ": storage view has ", t.size(), " items, expected 4");
    loader.add_view(storage_key(*t[0], path),
                    {storage_key(*t[1], path), t[2]->to_int("offset"), t[3]->to_int("size")});
  }
  // tensors: count, then per tensor a pickle (key, storage key, type), int32 ndim, 4 unused
  // bytes, ndim int64 sizes, ndim int64 strides, int64 storage offset.
  const ByteSpan tensors = member("tensors");
  pos = 0;
  const int64_t n_tensors = next_pickle(tensors, pos, path + ": tensors").root().to_int("count");
  for (int64_t i = 0; i < n_tensors; ++i) {
    const Pickle header = next_pickle(tensors, pos, path + ": tensor header");
    const auto& h = header.root().tuple("tensor header");
    AFN_CHECK(h.size() == 3, path, ": malformed tensor header ", header.root().describe());
    const uint32_t ndim = tensors.u32(pos, "tensor ndim");
    AFN_CHECK(ndim <= kMaxDims, path, ": tensor with ", ndim, " dimensions");
    pos += 8;
    Pending p;
    p.storage_key = key_string(*h[1], "storage key");
    for (uint32_t d = 0; d < ndim; ++d)
      p.shape.push_back(int64_t(tensors.u64(pos + 8 * d, "size")));
    pos += 8 * uint64_t(ndim);
    for (uint32_t d = 0; d < ndim; ++d)
      p.strides.push_back(int64_t(tensors.u64(pos + 8 * d, "stride")));
    pos += 8 * uint64_t(ndim);
    p.offset = int64_t(tensors.u64(pos, "storage offset"));
    pos += 8;
    loader.add_tar_tensor(key_string(*h[0], "tensor key"), std::move(p));
  }
  const Pickle object = Pickle::parse(member("pickle"), path + ": pickle");
  loader.read_state_dict(object.root());
  return loader.finish(big_endian);
}

bool looks_like_tar(const ByteSpan& b) {
  return b.size >= 512 && std::memcmp(b.data + 257, "ustar", 5) == 0;
}

std::string leading_bytes(const ByteSpan& b) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(b.size, 8); ++i) {
    s += hex[b.data[i] >> 4];
    s += hex[b.data[i] & 15];
    s += ' ';
  }
  return s;
}

}  // namespace

// ---- public API -------------------------------------------------------------------------------

TorchFile TorchFile::open(const std::string& path) {
  return open(MappedFile::open(path));
}

TorchFile TorchFile::open(std::shared_ptr<const MappedFile> file) {
  TorchFile f;
  f.file_ = std::move(file);
  const std::string& path = f.file_->path();
  const ByteSpan b = f.file_->bytes();
  if (ZipReader::looks_like_zip(b)) {
    f.container_ = "zip";
    f.tensors_ = load_zip(f.file_);
  } else if (looks_like_tar(b)) {
    f.container_ = "tar";
    f.tensors_ = load_tar(f.file_);
  } else if (b.data[0] == 0x80) {  // a pickle PROTO opcode: the legacy format
    f.container_ = "legacy";
    f.tensors_ = load_legacy(f.file_);
  } else {
    AFN_FAIL(path, ": not a torch.save file (it starts with bytes ", leading_bytes(b),
             "); expected a zip archive (50 4b 03 04), a legacy pickle (80 02 8a 0a ...) or a tar "
             "archive");
  }
  return f;
}

StateDict load_torch_file(const std::string& path) {
  const TorchFile f = TorchFile::open(path);
  StateDict sd;
  for (const TorchTensorRecord& r : f.tensors()) sd.insert(r.key, r.materialize());
  return sd;
}

namespace {
TorchScalar torch_scalar_of(DType t) {
  switch (t) {
    case DType::F32:
      return TorchScalar::Float;
    case DType::F64:
      return TorchScalar::Double;
    case DType::I64:
      return TorchScalar::Long;
    case DType::I32:
      return TorchScalar::Int;
    case DType::U8:
      return TorchScalar::Byte;
    case DType::F16:
      return TorchScalar::Half;
    case DType::BF16:
      return TorchScalar::BFloat16;
  }
  AFN_FAIL("save_torch_file: dtype ", t, " has no torch storage type");
}

// The archive's folder: the file's stem as torch.save names it, "archive" when the stem has
// characters a zip entry name should not carry.
std::string archive_prefix(const std::string& path) {
  const std::string stem = std::filesystem::path(path).stem().string();
  const bool plain = !stem.empty() && std::all_of(stem.begin(), stem.end(), [](char c) {
    return std::isalnum(uint8_t(c)) || c == '_' || c == '-' || c == '.';
  });
  return plain ? stem : "archive";
}

// data.pkl for `sd`, each tensor i in storage "i": what torch.save pickles for a state_dict.
std::string state_dict_pickle(const StateDict& sd) {
  PickleWriter w;
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.mark();
  int64_t index = 0;
  for (const auto& [key, t] : sd) {
    w.string(key);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.mark();
    w.mark();  // persistent id ('storage', torch.<T>Storage, key, 'cpu', numel)
    w.string("storage");
    w.global("torch", torch_storage_name(torch_scalar_of(t.dtype())));
    w.string(std::to_string(index++));
    w.string("cpu");
    w.integer(t.numel());
    w.tuple_from_mark();
    w.binpersid();
    w.integer(0);  // storage offset
    w.int_tuple(t.shape());
    w.int_tuple(contiguous_strides(t.shape()));
    w.boolean(false);                        // requires_grad
    w.global("collections", "OrderedDict");  // backward_hooks
    w.empty_tuple();
    w.reduce();
    w.tuple_from_mark();
    w.reduce();
  }
  w.setitems();
  w.stop();
  return w.bytes();
}
}  // namespace

void save_torch_file(const std::string& path, const StateDict& sd) {
  AtomicFile out(path);
  const std::string prefix = archive_prefix(path);
  {
    ZipWriter zip(out.temp_path());
    const std::string pkl = state_dict_pickle(sd);
    zip.add(prefix + "/data.pkl", pkl.data(), pkl.size());
    const std::string order = "little";
    zip.add(prefix + "/byteorder", order.data(), order.size());
    int64_t index = 0;
    for (const auto& [key, t] : sd) {
      const Tensor c = t.cpu().contiguous();
      zip.add(prefix + "/data/" + std::to_string(index++), c.raw_data(), c.nbytes());
    }
    const std::string version = "3\n";
    zip.add(prefix + "/version", version.data(), version.size());
    zip.finish();
  }
  out.commit();
}

std::optional<std::string> torchvision_hash_of_name(const std::string& path) {
  static const std::regex kHash("-([a-f0-9]+)\\.");
  const std::string name = std::filesystem::path(path).filename().string();
  std::smatch m;
  if (!std::regex_search(name, m, kHash)) return std::nullopt;
  return m[1].str();
}

HashCheck verify_torchvision_hash(const std::string& path, const std::string& sha256) {
  HashCheck c;
  c.sha256 = sha256.empty() ? sha256_file(path) : sha256;
  const auto name_hash = torchvision_hash_of_name(path);
  if (!name_hash) {
    c.summary = "no hash in the file name: nothing to check";
    return c;
  }
  c.has_hash = true;
  c.name_hash = *name_hash;
  AFN_CHECK(c.sha256.compare(0, c.name_hash.size(), c.name_hash) == 0, path,
            ": the file's SHA-256 is ", c.sha256, " but its name says it starts with ", c.name_hash,
            ": the download is corrupt or incomplete, or the file was renamed. Download it "
            "again, or pass --no-verify to import it anyway");
  c.summary = "sha256 matches the name's hash " + c.name_hash;
  return c;
}

}  // namespace afinar::io
