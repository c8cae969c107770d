#include "afinar/core/allocator.h"

#include <malloc.h>
#include <atomic>

#include <cstdlib>
#include <new>

#include "afinar/core/check.h"

namespace afinar {

namespace {
constexpr size_t kAlignment = 64;
std::atomic<size_t> g_cpu_bytes{0};
}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  check_device_available(device);
  AFN_CHECK(device.is_cpu(), "storage on ", device,
            ": CUDA tensors arrive with the CUDA backend; this build allocates on the cpu only");
  // aligned_alloc needs a size that is a multiple of the alignment; zero-size tensors still get a
  // valid (unused) pointer so data() is never null.
  size_t padded = (std::max<size_t>(nbytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  data_ = std::aligned_alloc(kAlignment, padded);
  AFN_CHECK(data_ != nullptr, "out of memory: could not allocate ", nbytes, " bytes on the cpu (",
            g_cpu_bytes.load(), " bytes in use by afinar tensors)");
  g_cpu_bytes += nbytes_;
}

Storage::~Storage() {
  std::free(data_);
  g_cpu_bytes -= nbytes_;
}

size_t cpu_bytes_allocated() {
  return g_cpu_bytes.load();
}

}  // namespace afinar
