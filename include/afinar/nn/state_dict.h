// StateDict: named tensors in insertion order, like PyTorch's OrderedDict state_dict. The keys are
// torchvision's (`features.0.weight`, `layer1.0.bn1.running_mean`, `fc.bias`); the order is the
// module's registration order, which is also the order torch.save writes and the importer reads.
//
//   StateDict sd = model.state_dict();
//   for (const auto& [name, t] : sd) std::cout << name << " " << t.shape() << "\n";
//   Tensor w = sd.at("fc.weight");
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "afinar/core/tensor.h"

namespace afinar {

class StateDict {
 public:
  using Entry = std::pair<std::string, Tensor>;

  // Appends a key; a key already present is an error (two tensors under one name).
  void insert(std::string key, Tensor value);
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  // The tensor under `key`; an absent key throws an error naming it.
  const Tensor& at(const std::string& key) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<std::string> keys() const;

  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace afinar
