#include "afinar/io/hdf5.h"

#include <hdf5.h>

#include <algorithm>
#include <filesystem>

namespace afinar::hdf5 {

namespace {

// Silences the C library's own error printing: failures become afinar::Error with context.
// HDF5's own error printing is off (afinar reports errors itself), and so is its exit handler:
// after a failed write (a full disk) the file's close fails too, and HDF5 1.10's atexit cleanup
// then crashes on that file (h5py issue 914), turning a clear error into a segfault.
struct QuietErrors {
  QuietErrors() {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
};
const QuietErrors quiet;

// Closes an HDF5 handle at scope exit with the matching close function.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
  operator hid_t() const { return id; }
};

hid_t native_type(DType t) {
  switch (t) {
    case DType::F32:
      return H5T_NATIVE_FLOAT;
    case DType::F64:
      return H5T_NATIVE_DOUBLE;
    case DType::I64:
      return H5T_NATIVE_INT64;
    case DType::I32:
      return H5T_NATIVE_INT32;
    case DType::U8:
      return H5T_NATIVE_UINT8;
    default:
      AFN_FAIL("hdf5: dtype ", t, " cannot be stored (use float32/float64/int64/int32/uint8)");
  }
}

DType dtype_of_h5(hid_t type, const std::string& where) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT && size == 4) return DType::F32;
  if (cls == H5T_FLOAT && size == 8) return DType::F64;
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 8 && is_signed) return DType::I64;
    if (size == 4 && is_signed) return DType::I32;
    if (size == 1 && !is_signed) return DType::U8;
  }
  AFN_FAIL("hdf5: ", where, " has an element type afinar does not read (class ", int(cls),
           ", size ", size, ")");
}

Handle open_object(hid_t file, const std::string& object, const std::string& path) {
  hid_t id = H5Oopen(file, object.c_str(), H5P_DEFAULT);
  AFN_CHECK(id >= 0, "hdf5: ", path, " has no object '", object, "'");
  return {id, H5Oclose};
}

uint64_t file_size(hid_t file) {
  hsize_t size = 0;
  AFN_CHECK(H5Fget_filesize(file, &size) >= 0, "hdf5: cannot get the size of an open file");
  return size;
}

// The element count of `space`, checked against `limit` bytes (at `element_size` bytes each)
// before anything of that size is allocated: a few corrupt or hostile bytes can declare a
// [2^40] dataset or attribute, and the product of the dimensions can overflow.
uint64_t checked_points(hid_t space, uint64_t element_size, uint64_t limit, const std::string& what,
                        const std::string& path) {
  const int nd = H5Sget_simple_extent_ndims(space);
  AFN_CHECK(nd >= 0, "hdf5: ", path, ":", what,
            " has an unreadable dataspace; the file is corrupt");
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  uint64_t n = 1, bytes = 0;
  bool overflow = false;
  for (hsize_t d : dims) overflow = overflow || __builtin_mul_overflow(n, uint64_t(d), &n);
  overflow = overflow || __builtin_mul_overflow(n, std::max<uint64_t>(element_size, 1), &bytes);
  AFN_CHECK(!overflow && bytes <= limit, "hdf5: ", path, ":", what, " declares ",
            overflow ? std::string("more than 2^64") : std::to_string(bytes),
            " bytes of data, more than the file can hold (at most ", limit,
            "); the file is corrupt or not an afinar weights file");
  return n;
}

// Deflate's largest compression ratio (a 258-byte match per 2-bit code: about 1032:1): filtered
// chunks cannot expand by more, which bounds the data of a compressed dataset.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Datasets whose bytes lie outside the file are refused: external storage reads raw files named
// by the weights file (any file on disk could end up in a tensor), virtual datasets read other
// HDF5 files. Returns how many bytes of data the dataset can hold: the file's size for data
// stored in it, 1032x that for chunked data (compressed, or chunks never written).
uint64_t dataset_byte_limit(hid_t ds, hid_t file, const std::string& where) {
  Handle dcpl{H5Dget_create_plist(ds), H5Pclose};
  AFN_CHECK(dcpl.id >= 0, "hdf5: ", where, ": unreadable dataset properties; the file is corrupt");
  AFN_CHECK(H5Pget_external_count(dcpl) == 0, "hdf5: ", where,
            " stores its data in external files, which afinar never reads (a weights file must "
            "hold its own data); re-save it without external storage");
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  AFN_CHECK(layout == H5D_CONTIGUOUS || layout == H5D_COMPACT || layout == H5D_CHUNKED,
            "hdf5: ", where, " has a virtual or unknown storage layout (", int(layout),
            "); afinar reads contiguous, compact or chunked datasets only");
  const uint64_t size = file_size(file);
  return layout == H5D_CHUNKED ? size * kMaxDeflateRatio : size;
}

}  // namespace

File File::open(const std::string& path) {
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    std::error_code ec;
    AFN_CHECK(std::filesystem::is_regular_file(path, ec), "hdf5: cannot open '", path,
              "' for reading (no such file)");
    AFN_FAIL("hdf5: cannot read '", path,
             "': it is truncated, corrupt, unreadable or not an HDF5 file");
  }
  return File(id, path);
}

File File::create(const std::string& path) {
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  AFN_CHECK(id >= 0, "hdf5: cannot create '", path,
            "' (does the folder exist and is it writable?)");
  return File(id, path);
}

File::~File() {
  if (id_ >= 0) H5Fclose(id_);
}
File::File(File&& o) noexcept : id_(o.id_), path_(std::move(o.path_)) {
  o.id_ = -1;
}
File& File::operator=(File&& o) noexcept {
  std::swap(id_, o.id_);
  std::swap(path_, o.path_);
  return *this;
}

bool File::exists(const std::string& object) const {
  if (object == "/") return true;
  // Check each path component in turn: H5Lexists fails on a missing intermediate group.
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = object.find('/', pos + 1);
    std::string prefix = object.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

std::vector<std::string> File::list(const std::string& group, LinkOrder order) const {
  Handle g{H5Gopen2(id_, group.c_str(), H5P_DEFAULT), H5Gclose};
  AFN_CHECK(g.id >= 0, "hdf5: ", path_, " has no group '", group, "'");
  H5G_info_t info;
  H5Gget_info(g, &info);
  // Creation order is only indexed in groups created with track_order.
  Handle gcpl{H5Gget_create_plist(g), H5Pclose};
  unsigned flags = 0;
  H5Pget_link_creation_order(gcpl, &flags);
  const bool by_creation = order == LinkOrder::Creation && (flags & H5P_CRT_ORDER_INDEXED);
  const H5_index_t index = by_creation ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    AFN_CHECK(n >= 0, "hdf5: cannot list member ", i, " of ", group, " in ", path_);
    std::string name(size_t(n), '\0');
    H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, i, name.data(), size_t(n) + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  if (!by_creation) std::sort(names.begin(), names.end());
  return names;
}

void File::create_group(const std::string& group, bool track_order) {
  if (exists(group)) return;
  Handle lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H5Pset_create_intermediate_group(lcpl, 1);
  Handle gcpl{H5Pcreate(H5P_GROUP_CREATE), H5Pclose};
  if (track_order) H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  Handle g{H5Gcreate2(id_, group.c_str(), lcpl, gcpl, H5P_DEFAULT), H5Gclose};
  AFN_CHECK(g.id >= 0, "hdf5: cannot create group '", group, "' in ", path_);
}

Tensor File::read_tensor(const std::string& dataset) const {
  Handle ds{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  AFN_CHECK(ds.id >= 0, "hdf5: ", path_, " has no dataset '", dataset, "'");
  Handle space{H5Dget_space(ds), H5Sclose};
  Handle type{H5Dget_type(ds), H5Tclose};
  const DType dtype = dtype_of_h5(type, path_ + ":" + dataset);
  checked_points(space, element_size(dtype), dataset_byte_limit(ds, id_, path_ + ":" + dataset),
                 dataset, path_);
  std::vector<hsize_t> dims(static_cast<size_t>(H5Sget_simple_extent_ndims(space)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  Tensor t = empty(Shape(dims.begin(), dims.end()), dtype);
  if (t.numel() > 0) {
    AFN_CHECK(H5Dread(ds, native_type(t.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) >= 0,
              "hdf5: reading ", dataset, " from ", path_, " failed");
  }
  return t;
}

void File::write_tensor(const std::string& dataset, const Tensor& t) {
  const Tensor c = t.cpu().contiguous();
  write_raw(dataset, c.dtype(), c.shape(), c.numel() > 0 ? c.raw_data() : nullptr);
}

void File::write_raw(const std::string& dataset, DType dtype, const Shape& shape,
                     const void* data) {
  const auto slash = dataset.rfind('/');
  if (slash != std::string::npos && slash > 0) create_group(dataset.substr(0, slash));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space{shape.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
               H5Sclose};
  Handle ds{H5Dcreate2(id_, dataset.c_str(), native_type(dtype), space, H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT),
            H5Dclose};
  AFN_CHECK(ds.id >= 0, "hdf5: cannot create dataset '", dataset, "' in ", path_,
            " (does it exist already?)");
  if (numel_of(shape) > 0) {
    AFN_CHECK(H5Dwrite(ds, native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
              "hdf5: writing ", dataset, " to ", path_, " failed (disk full?)");
  }
}

bool File::has_attr(const std::string& object, const std::string& name) const {
  if (!exists(object)) return false;
  return H5Aexists_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

namespace {
Handle open_attr(hid_t file, const std::string& object, const std::string& name,
                 const std::string& path) {
  hid_t id = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  AFN_CHECK(id >= 0, "hdf5: ", path, ":", object, " has no attribute '", name, "'");
  return {id, H5Aclose};
}

std::vector<double> read_numeric_attr(hid_t file, const std::string& object,
                                      const std::string& name, const std::string& path) {
  Handle a = open_attr(file, object, name, path);
  Handle space{H5Aget_space(a), H5Sclose};
  // An attribute's data lies in the file (attributes are never chunked or external).
  const uint64_t n =
      checked_points(space, 1, file_size(file), object + "@" + name + " (attribute)", path);
  std::vector<double> v(n);
  AFN_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, v.data()) >= 0, "hdf5: attribute ", object, "@", name,
            " in ", path, " is not numeric");
  return v;
}

void write_attr_raw(hid_t file, const std::string& object, const std::string& name, hid_t type,
                    hid_t space, const void* data, const std::string& path) {
  Handle obj = open_object(file, object, path);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle a{H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  AFN_CHECK(a.id >= 0 && H5Awrite(a, type, data) >= 0, "hdf5: cannot write attribute ", object, "@",
            name, " in ", path);
}

// The file and memory type of string attributes: variable-length, UTF-8.
Handle utf8_string_type() {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return {type, H5Tclose};  // built in place: a Handle must never be copied (it closes once)
}

// A variable-length string ends at its first NUL: one inside would silently cut the value.
void check_no_nul(const std::string& value, const std::string& object, const std::string& name,
                  const std::string& path) {
  AFN_CHECK(value.find('\0') == std::string::npos, "hdf5: attribute ", object, "@", name, " in ",
            path, " would hold a NUL character, which HDF5 strings cannot");
}
}  // namespace

double File::read_attr_double(const std::string& object, const std::string& name) const {
  auto v = read_numeric_attr(id_, object, name, path_);
  AFN_CHECK(v.size() == 1, "hdf5: attribute ", object, "@", name, " has ", v.size(),
            " values, expected one");
  return v[0];
}

int64_t File::read_attr_int(const std::string& object, const std::string& name) const {
  Handle a = open_attr(id_, object, name, path_);
  Handle space{H5Aget_space(a), H5Sclose};
  AFN_CHECK(H5Sget_simple_extent_npoints(space) == 1, "hdf5: attribute ", object, "@", name, " in ",
            path_, " is not a single value");
  int64_t v = 0;
  AFN_CHECK(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0, "hdf5: attribute ", object, "@", name,
            " is not an integer");
  return v;
}

std::vector<double> File::read_attr_doubles(const std::string& object,
                                            const std::string& name) const {
  return read_numeric_attr(id_, object, name, path_);
}

std::string File::read_attr_string(const std::string& object, const std::string& name) const {
  std::vector<std::string> v = read_attr_strings(object, name);
  AFN_CHECK(v.size() == 1, "hdf5: attribute ", object, "@", name, " in ", path_, " has ", v.size(),
            " strings, expected one");
  return v[0];
}

std::vector<std::string> File::read_attr_strings(const std::string& object,
                                                 const std::string& name) const {
  Handle a = open_attr(id_, object, name, path_);
  Handle type{H5Aget_type(a), H5Tclose};
  AFN_CHECK(H5Tget_class(type) == H5T_STRING, "hdf5: attribute ", object, "@", name, " in ", path_,
            " is not a string");
  Handle space{H5Aget_space(a), H5Sclose};
  const uint64_t n = checked_points(space, H5Tis_variable_str(type) > 0 ? 1 : H5Tget_size(type),
                                    file_size(id_), object + "@" + name + " (attribute)", path_);
  std::vector<std::string> out;
  // Variable length (what afinar and h5py write) or fixed length (earlier afinar versions wrote
  // fixed-length ASCII); the memory type takes the file's character set, as an ASCII memory type
  // refuses to convert UTF-8.
  if (H5Tis_variable_str(type) > 0) {
    Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    std::vector<char*> ptrs(n, nullptr);
    AFN_CHECK(H5Aread(a, mem, ptrs.data()) >= 0, "hdf5: reading string attribute ", name,
              " failed");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
    return out;
  }
  const size_t width = H5Tget_size(type);
  AFN_CHECK(width > 0 && n <= (size_t(1) << 32) / width, "hdf5: string attribute ", object, "@",
            name, " in ", path_, " is implausibly large (", n, " strings of ", width, " bytes)");
  std::vector<char> buf(n * width);
  Handle mem{H5Tcopy(type), H5Tclose};
  AFN_CHECK(H5Aread(a, mem, buf.data()) >= 0, "hdf5: reading string attribute ", name, " failed");
  for (size_t i = 0; i < n; ++i) {
    const char* p = buf.data() + i * width;
    out.emplace_back(p, std::find(p, p + width, '\0'));
  }
  return out;
}

void File::write_attr(const std::string& object, const std::string& name, double value) {
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  write_attr_raw(id_, object, name, H5T_NATIVE_DOUBLE, space, &value, path_);
}

void File::write_attr(const std::string& object, const std::string& name, int64_t value) {
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  write_attr_raw(id_, object, name, H5T_NATIVE_INT64, space, &value, path_);
}

void File::write_attr(const std::string& object, const std::string& name,
                      const std::string& value) {
  // Variable-length UTF-8, as h5py writes a str and reads it back as str (fixed-length ASCII
  // comes back as bytes). read_attr_string also reads the fixed-length ASCII that earlier afinar
  // versions wrote.
  check_no_nul(value, object, name, path_);
  Handle type = utf8_string_type();
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  const char* p = value.c_str();
  write_attr_raw(id_, object, name, type, space, &p, path_);
}

void File::write_attr(const std::string& object, const std::string& name,
                      const std::vector<double>& values) {
  hsize_t n = values.size();
  Handle space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  write_attr_raw(id_, object, name, H5T_NATIVE_DOUBLE, space, values.data(), path_);
}

void File::write_attr(const std::string& object, const std::string& name,
                      const std::vector<std::string>& values) {
  // Variable-length UTF-8 strings: what h5py writes for a list of str, and reads back as str.
  Handle type = utf8_string_type();
  hsize_t n = values.size();
  Handle space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  std::vector<const char*> ptrs;
  for (const auto& v : values) {
    check_no_nul(v, object, name, path_);
    ptrs.push_back(v.c_str());
  }
  write_attr_raw(id_, object, name, type, space, ptrs.data(), path_);
}

}  // namespace afinar::hdf5
