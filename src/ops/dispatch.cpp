#include "afinar/ops/dispatch.h"

#include <mutex>
#include <vector>

namespace afinar {

namespace {
struct Registry {
  std::mutex mu;
  std::vector<ops::KernelTableBase*> tables;
};
Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

int64_t op_call_count(const std::string& name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (auto* t : r.tables)
    if (name == t->name()) return t->calls();
  AFN_FAIL("op_call_count: no kernel table named '", name, "'");
}

void reset_op_call_counts() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (auto* t : r.tables) t->reset_calls();
}

namespace ops {

KernelTableBase::KernelTableBase(const char* name) : name_(name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.tables.push_back(this);
}

void KernelTableBase::missing(const Device& d) const {
  check_device_available(d);  // the clearer message when the device itself is unusable
  AFN_FAIL(name_, ": no implementation on ", d, " (afinar never falls back to another device; ",
           "move the tensors to a device that has one)");
}

}  // namespace ops
}  // namespace afinar
