// Fuzz target: the HDF5 weights loader (io::load_weights) on a file: attributes, the state_dict
// group and its datasets. libhdf5 itself is not instrumented; what it does with hostile bytes
// shows only as crashes, not as ASan reports inside it.
#include "afinar/io/weights.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return afinar::fuzz::expect_error_or_success(
      [&] { (void)afinar::io::load_weights(afinar::fuzz::write_temp_file(data, size, ".h5")); });
}
