#include "afinar/nn/state_dict.h"

#include "afinar/core/check.h"

namespace afinar {

void StateDict::insert(std::string key, Tensor value) {
  AFN_CHECK(!contains(key), "state_dict: the key '", key, "' appears twice");
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

const Tensor& StateDict::at(const std::string& key) const {
  auto it = index_.find(key);
  AFN_CHECK(it != index_.end(), "state_dict: no tensor named '", key, "'");
  return entries_[it->second].second;
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.first);
  return out;
}

}  // namespace afinar
