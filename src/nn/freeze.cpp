// Freezing by name patterns, seed 003's freeze_until, frozen BatchNorm statistics, counts.
#include "afinar/nn/freeze.h"

#include "afinar/nn/layers.h"

namespace afinar::nn {

namespace {

// requires_grad = trainable on every parameter matching a pattern; checks every pattern first.
size_t set_trainable(Module& model, const std::vector<std::string>& patterns, bool trainable,
                     const char* op) {
  AFN_CHECK(!patterns.empty(), op, ": no patterns given");
  const NamedTensors params = model.named_parameters();
  std::vector<Tensor> matched;
  for (const auto& pattern : patterns) {
    bool any = false;
    for (const auto& [name, p] : params) any = any || glob_match(pattern, name);
    AFN_CHECK(any, op, ": the pattern '", pattern, "' matches no parameter of the ",
              model.type_name(), " (names look like '",
              params.empty() ? std::string("(none)") : params.front().first, "')");
  }
  for (const auto& [name, p] : params) {
    for (const auto& pattern : patterns) {
      if (glob_match(pattern, name)) {
        matched.push_back(p);
        break;
      }
    }
  }
  for (auto& p : matched) p.set_requires_grad(trainable);
  return matched.size();
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& name) {
  // Greedy matching with one backtrack point (the last `*`): linear in practice, and exact for
  // globs since a later `*` can always absorb what an earlier one would have.
  size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

size_t freeze(Module& model, const std::vector<std::string>& patterns) {
  return set_trainable(model, patterns, false, "freeze");
}

size_t unfreeze(Module& model, const std::vector<std::string>& patterns) {
  return set_trainable(model, patterns, true, "unfreeze");
}

void freeze_until(Module& model, const std::string& name_part) {
  NamedTensors params = model.named_parameters();
  bool found = false;
  for (const auto& [name, p] : params) found = found || name.find(name_part) != std::string::npos;
  AFN_CHECK(found, "freeze_until: no parameter name of the ", model.type_name(), " contains '",
            name_part, "'");
  found = false;
  for (auto& [name, p] : params) {
    found = found || name.find(name_part) != std::string::npos;
    p.set_requires_grad(found);
  }
}

size_t set_bn_stats_frozen(Module& model, bool frozen) {
  size_t count = 0;
  model.apply([&](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) {
      bn->set_stats_frozen(frozen);
      ++count;
    }
  });
  return count;
}

ParamCounts count_params(const Module& model) {
  ParamCounts c;
  for (const auto& [name, p] : model.named_parameters()) {
    (p.requires_grad() ? c.trainable : c.frozen) += p.numel();
    c.total += p.numel();
  }
  return c;
}

}  // namespace afinar::nn
