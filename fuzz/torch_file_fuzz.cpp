// Fuzz target: the torch.save reader (io/torch_file.h) on a file: container detection, the zip,
// legacy and tar containers, the tensor records, and their conversion (materialize reads every
// element a record addresses, so a range the validation missed shows as an ASan report).
#include "afinar/io/torch_file.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return afinar::fuzz::expect_error_or_success([&] {
    using namespace afinar::io;
    const TorchFile f = TorchFile::open(afinar::fuzz::write_temp_file(data, size, ".pth"));
    for (const TorchTensorRecord& r : f.tensors()) {
      afinar::fuzz::expect_error_or_success([&] { (void)r.materialize(); });
    }
  });
}
