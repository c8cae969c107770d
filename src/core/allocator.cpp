#include "afinar/core/allocator.h"

#include <malloc.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "afinar/core/check.h"

#ifdef AFINAR_WITH_CUDA
#include "core/cuda_bridge.h"
#endif

namespace afinar {

namespace {
constexpr size_t kAlignment = 64;
std::atomic<size_t> g_cpu_bytes{0};
std::atomic<size_t> g_cpu_peak{0};

// glibc serves blocks over 32 MiB with mmap and unmaps them on free, and trims the heap above
// 128 KiB, so every training step's fresh activations page-fault again on first touch (3-6% of a
// conv forward+backward here). Keeping blocks up to 64 MiB on the heap and trimming only above
// 256 MiB lets the next step reuse the pages. Set once, before the first allocation.
[[maybe_unused]] const bool g_malloc_tuned = [] {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  return true;
}();

// RAM + swap in bytes. A request above it cannot succeed (Linux's default overcommit heuristic
// refuses it as well), so cpu_allocate fails it without asking malloc, whose padding could
// overflow near SIZE_MAX and whose sanitizer builds abort on such sizes instead of returning null.
size_t machine_memory() {
  struct sysinfo si {};
  if (sysinfo(&si) != 0) return SIZE_MAX;
  size_t bytes = 0;
  if (__builtin_mul_overflow(size_t(si.totalram) + size_t(si.totalswap), size_t(si.mem_unit),
                             &bytes))
    return SIZE_MAX;
  return bytes;
}

void* cpu_allocate(size_t nbytes) {
  static const size_t limit = machine_memory();
  // aligned_alloc needs a size that is a multiple of the alignment; zero-size tensors still get a
  // valid (unused) pointer so data() is never null.
  const size_t padded = (std::max<size_t>(nbytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  void* p = nbytes <= limit ? std::aligned_alloc(kAlignment, padded) : nullptr;
  AFN_CHECK(p != nullptr, "out of memory: could not allocate ", nbytes, " bytes on the cpu (",
            g_cpu_bytes.load(),
            " bytes in use by afinar tensors); try a smaller batch size or smaller images");
  const size_t now = g_cpu_bytes += nbytes;
  size_t peak = g_cpu_peak.load();
  while (now > peak && !g_cpu_peak.compare_exchange_weak(peak, now)) {
  }
  return p;
}
}  // namespace

Storage::Storage(size_t nbytes, Device device, MemoryKind kind)
    : nbytes_(nbytes), device_(device), kind_(kind) {
  check_device_available(device);
  AFN_CHECK(kind != MemoryKind::Pinned || device.is_cpu(),
            "pinned memory is host memory: ask for it on the cpu, not on ", device);
  AFN_CHECK(kind != MemoryKind::CopyStream || device.is_cuda(),
            "copy-stream memory lives on a CUDA device, not on ", device);
  if (kind == MemoryKind::Pinned) {
    // Page-locking is a CUDA driver service: without a GPU there is nothing to copy to.
    check_device_available(Device(DeviceType::CUDA, 0));
  }
#ifdef AFINAR_WITH_CUDA
  if (device.is_cuda()) {
    data_ = cuda::allocate(nbytes, device.index, kind == MemoryKind::CopyStream);
    return;
  }
  if (kind == MemoryKind::Pinned) {
    data_ = cuda::allocate_pinned(nbytes);
    return;
  }
#endif
  data_ = cpu_allocate(nbytes);
}

Storage::~Storage() {
#ifdef AFINAR_WITH_CUDA
  if (device_.is_cuda()) {
    cuda::deallocate(data_, device_.index);
    return;
  }
  if (kind_ == MemoryKind::Pinned) {
    cuda::deallocate_pinned(data_);
    return;
  }
#endif
  std::free(data_);
  g_cpu_bytes -= nbytes_;
}

size_t cpu_bytes_allocated() {
  return g_cpu_bytes.load();
}

MemoryStats memory_stats(const Device& device) {
  check_device_available(device);
#ifdef AFINAR_WITH_CUDA
  if (device.is_cuda()) return cuda::memory_stats(device.index);
#endif
  MemoryStats s;
  s.allocated = s.reserved = g_cpu_bytes.load();
  s.peak_allocated = g_cpu_peak.load();
  return s;
}

void reset_peak_memory_stats(const Device& device) {
  check_device_available(device);
#ifdef AFINAR_WITH_CUDA
  if (device.is_cuda()) return cuda::reset_peak_memory_stats(device.index);
#endif
  g_cpu_peak.store(g_cpu_bytes.load());
}

void empty_cache(const Device& device) {
  check_device_available(device);
#ifdef AFINAR_WITH_CUDA
  if (device.is_cuda()) cuda::empty_cache(device.index);
#endif
}

void synchronize(const Device& device) {
  check_device_available(device);
#ifdef AFINAR_WITH_CUDA
  if (device.is_cuda()) cuda::synchronize(device.index);
#endif
}

}  // namespace afinar
