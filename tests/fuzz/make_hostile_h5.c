/* Writes the hostile HDF5 weights files of tests/fuzz/weights/ (seeds for fuzz/weights_fuzz.cpp
 * and inputs of the Hdf5.Refuses* regression tests in tests/io/hdf5_test.cpp). Each is a valid
 * afinar weights file (root attributes as io/weights.h) whose one dataset /state_dict/fc.weight
 * is hostile:
 *   huge_chunked.h5     float32 [2^40], chunked, no chunk ever written: a few KB declaring 4 TiB
 *   huge_contiguous.h5  float32 [2^38], contiguous, storage never allocated
 *   external.h5         float32 [4] whose data lives in the external file "/etc/hostname"
 * Rebuild (needs libhdf5-dev; the files are committed, nothing builds this in CI):
 *   gcc tests/fuzz/make_hostile_h5.c $(pkg-config --cflags --libs hdf5-serial) -o /tmp/mk &&
 *     (cd tests/fuzz/weights && /tmp/mk)
 */
#include <hdf5.h>
#include <string.h>

static void attr_str(hid_t f, const char* name, const char* value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, &value);
  H5Aclose(a), H5Sclose(s), H5Tclose(t);
}

static void attr_int(hid_t f, const char* name, long long v) {
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_LLONG, &v);
  H5Aclose(a), H5Sclose(s);
}

static void attr_doubles(hid_t f, const char* name, const double* v) {
  hsize_t n = 3;
  hid_t s = H5Screate_simple(1, &n, NULL);
  hid_t a = H5Acreate2(f, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_DOUBLE, v);
  H5Aclose(a), H5Sclose(s);
}

/* A weights file with root attributes and one dataset made with `dcpl` over `n` elements. */
static void write(const char* path, hsize_t n, hid_t dcpl) {
  const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  attr_str(f, "format", "afinar-weights");
  attr_int(f, "format_version", 1);
  attr_str(f, "arch", "resnet18");
  attr_int(f, "num_classes", 4);
  attr_str(f, "source", "hostile");
  attr_str(f, "source_sha256", "");
  attr_doubles(f, "mean", mean);
  attr_doubles(f, "std", std);
  attr_int(f, "resize", 256);
  attr_int(f, "crop", 224);
  hid_t g = H5Gcreate2(f, "state_dict", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t s = H5Screate_simple(1, &n, NULL);
  hid_t d = H5Dcreate2(g, "fc.weight", H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dclose(d), H5Sclose(s), H5Gclose(g), H5Fclose(f);
}

int main(void) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t chunk = 1024;
  H5Pset_chunk(dcpl, 1, &chunk);
  write("huge_chunked.h5", (hsize_t)1 << 40, dcpl);
  H5Pclose(dcpl);

  dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_layout(dcpl, H5D_CONTIGUOUS);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE);
  write("huge_contiguous.h5", (hsize_t)1 << 38, dcpl);
  H5Pclose(dcpl);

  dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_external(dcpl, "/etc/hostname", 0, 16);
  write("external.h5", 4, dcpl);
  H5Pclose(dcpl);
  return 0;
}
