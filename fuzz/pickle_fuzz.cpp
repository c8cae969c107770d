// Fuzz target: the restricted pickle machine (io/torch_pickle.h) on bytes, then a walk over the
// value tree it built (describe() visits every node, as error messages do).
#include "afinar/io/torch_pickle.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string source = "fuzz input";
  return afinar::fuzz::expect_error_or_success([&] {
    using namespace afinar::io;
    const Pickle p = Pickle::parse(ByteSpan{data, size, &source}, "fuzz: data.pkl");
    (void)p.root().describe();
  });
}
