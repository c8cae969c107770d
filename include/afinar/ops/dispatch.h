// How an op reaches its implementation on a device, without a central switch.
//
// Each backend entry point of an op has a KernelTable: one function pointer per device type.
// The op's header declares it, its front end (src/ops/<op>.cpp) defines it and checks arguments,
// and each backend registers itself with one line in its own file:
//
//   // include/afinar/ops/activation.h
//   using ReluForwardFn = Tensor(const Tensor& x);
//   AFN_DECLARE_KERNEL(relu_forward, ReluForwardFn);
//   // src/ops/activation.cpp
//   AFN_DEFINE_KERNEL(relu_forward, ReluForwardFn);
//   Tensor ops::relu_forward(const Tensor& x) { ...checks...; return relu_forward_kernels()(x); }
//   // src/ops/cpu/activation.cpp
//   AFN_REGISTER_KERNEL(relu_forward, CPU, cpu::relu_forward);
//
// A device with no registered implementation is an error naming the op and device: there is
// never a silent fallback to the CPU. Every call is counted, so tests can check that work was
// skipped (op_call_count("conv2d_backward_weight")).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "afinar/core/check.h"
#include "afinar/core/device.h"

namespace afinar {

// Calls of a kernel table since start (or the last reset), for tests and profiling.
int64_t op_call_count(const std::string& name);
void reset_op_call_counts();

namespace ops {

class KernelTableBase {
 public:
  explicit KernelTableBase(const char* name);  // registers the table for op_call_count
  const char* name() const { return name_; }
  int64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  void reset_calls() { calls_.store(0, std::memory_order_relaxed); }

 protected:
  [[noreturn]] void missing(const Device& d) const;
  const char* name_;
  mutable std::atomic<int64_t> calls_{0};
};

template <typename Fn>
class KernelTable : public KernelTableBase {
 public:
  using KernelTableBase::KernelTableBase;
  void set(DeviceType d, Fn* fn) { fns_[static_cast<int>(d)] = fn; }
  bool has(DeviceType d) const { return fns_[static_cast<int>(d)] != nullptr; }
  // The implementation for `d`; throws if none is registered.
  Fn* get(const Device& d) const {
    Fn* fn = fns_[static_cast<int>(d.type)];
    if (!fn) missing(d);
    calls_.fetch_add(1, std::memory_order_relaxed);
    return fn;
  }

 private:
  std::array<Fn*, kNumDeviceTypes> fns_{};
};

}  // namespace ops
}  // namespace afinar

#define AFN_DECLARE_KERNEL(name, Fn) ::afinar::ops::KernelTable<Fn>& name##_kernels()

#define AFN_DEFINE_KERNEL(name, Fn)                     \
  ::afinar::ops::KernelTable<Fn>& name##_kernels() {    \
    static ::afinar::ops::KernelTable<Fn> table(#name); \
    return table;                                       \
  }

#define AFN_REGISTER_KERNEL(name, device, fn)                           \
  [[maybe_unused]] static const bool afn_registered_##name##_##device = \
      (::afinar::ops::name##_kernels().set(::afinar::DeviceType::device, fn), true)
