#include "runtime/deferred_check.h"

#include <memory>
#include <mutex>
#include <vector>

#include "runtime/context.h"

namespace afinar::cuda {

namespace {

// Flags outstanding at once per device before deferred_flag reads them back itself. A training
// step takes 3 (cross_entropy forward and backward, max_pool2d backward).
constexpr size_t kSlots = 256;

// The device words `pending` describes: word i belongs to pending[i]. Words past pending.size()
// read kFlagClear (cleared once, then after every read-back).
struct DeviceFlags {
  std::mutex mu;
  unsigned long long* words = nullptr;
  std::vector<FlagMessage> pending;
};

// Made by the first deferred_flag call for `device` (nullptr before it when !create) and never
// freed, like the device's streams and handles (runtime/context.cpp).
DeviceFlags* flags_of(int device, bool create) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<DeviceFlags>> all;
  std::lock_guard lock(mu);
  if (all.size() <= size_t(device)) all.resize(size_t(device) + 1);
  auto& f = all[size_t(device)];
  if (!f && create) {
    DeviceGuard guard(device);
    auto made = std::make_unique<DeviceFlags>();
    void* words = nullptr;
    AFN_CUDA_CHECK(cudaMalloc(&words, kSlots * sizeof(unsigned long long)));
    made->words = static_cast<unsigned long long*>(words);
    AFN_CUDA_CHECK(cudaMemsetAsync(made->words, 0xff, kSlots * sizeof(unsigned long long),
                                   compute_stream(device)));
    f = std::move(made);
  }
  return f.get();
}

// Reads the outstanding words (one copy), clears them for reuse (stream-ordered after the copy)
// and throws the first error, its message followed by `note`.
void check(int device, const char* note) {
  DeviceFlags* flags = flags_of(device, /*create=*/false);
  if (!flags) return;  // no op on this device has taken a flag yet
  DeviceFlags& f = *flags;
  std::vector<FlagMessage> messages;
  std::vector<unsigned long long> values;
  {
    std::lock_guard lock(f.mu);
    if (f.pending.empty()) return;
    messages.swap(f.pending);
    values.resize(messages.size());
    const size_t bytes = values.size() * sizeof(unsigned long long);
    DeviceGuard guard(device);
    const cudaStream_t s = compute_stream(device);
    AFN_CUDA_CHECK(cudaMemcpyAsync(values.data(), f.words, bytes, cudaMemcpyDeviceToHost, s));
    AFN_CUDA_CHECK(cudaMemsetAsync(f.words, 0xff, bytes, s));
    AFN_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] == kFlagClear) continue;
    const std::string message = messages[i](values[i]);
    if (!message.empty()) throw Error(message + note);
  }
}

}  // namespace

unsigned long long* deferred_flag(int device, FlagMessage message) {
  DeviceFlags& f = *flags_of(device, /*create=*/true);
  std::unique_lock lock(f.mu);
  while (f.pending.size() == kSlots) {
    lock.unlock();
    check_deferred(device);  // frees every slot, or throws an earlier op's error
    lock.lock();
  }
  f.pending.push_back(std::move(message));
  return f.words + (f.pending.size() - 1);
}

void check_deferred(int device) {
  check(device,
        " (found on the device by an earlier op and reported at this synchronisation; "
        "AFINAR_CUDA_SYNC=1 reports it from the op itself)");
}

void check_if_debugging(int device) {
  if (debug_sync_enabled()) check(device, "");
}

}  // namespace afinar::cuda
