// Module: registration, traversal in PyTorch's order, state_dict, modes, devices, surgery, repr.
#include "afinar/nn/module.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <unordered_set>

#include "afinar/autograd/grad_mode.h"

namespace afinar::nn {

namespace {

thread_local const ForwardHook* active_hook = nullptr;

// "a, b, c" for at most `limit` items, then "(and N more)".
template <typename T, typename Fn>
std::string join_limited(const std::vector<T>& items, Fn&& str, size_t limit = 10) {
  std::ostringstream os;
  for (size_t i = 0; i < items.size() && i < limit; ++i) os << (i ? ", " : "") << str(items[i]);
  if (items.size() > limit) os << " (and " << items.size() - limit << " more)";
  return os.str();
}

std::string plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// `dst` takes `src`'s storage and layout (same shape and dtype): PyTorch's `param.data = moved`,
// so every holder of the handle sees the tensor on its new device and autograd meta is kept.
void rebind_storage(const Tensor& dst, const Tensor& src) {
  TensorImpl* d = dst.impl();
  d->storage = src.impl()->storage;
  d->strides = src.strides();
  d->offset = src.storage_offset();
}

// Python's _addindent: every line after the first indented by two spaces.
std::string indent_tail(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}

}  // namespace

std::string LoadStateDictResult::str() const {
  std::vector<std::string> parts;
  auto same = [](const std::string& s) { return s; };
  if (!missing_keys.empty())
    parts.push_back(plural(missing_keys.size(), "missing key", "missing keys") + ": " +
                    join_limited(missing_keys, same));
  if (!unexpected_keys.empty())
    parts.push_back(plural(unexpected_keys.size(), "unexpected key", "unexpected keys") + ": " +
                    join_limited(unexpected_keys, same));
  if (!mismatched.empty())
    parts.push_back(plural(mismatched.size(), "shape mismatch", "shape mismatches") + ": " +
                    join_limited(mismatched, [](const ShapeMismatch& m) {
                      return m.key + " (model " + shape_str(m.expected) + ", state_dict " +
                             shape_str(m.got) + ")";
                    }));
  if (parts.empty()) return "all keys matched";
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out += "; " + parts[i];
  return out;
}

// ---- forward and hooks --------------------------------------------------------------------------

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (active_hook) (*active_hook)(*this, x, y);
  return y;
}

bool forward_hook_active() {
  return active_hook != nullptr;
}

ScopedForwardHook::ScopedForwardHook(ForwardHook hook)
    : hook_(std::move(hook)), previous_(active_hook) {
  active_hook = &hook_;
}

ScopedForwardHook::~ScopedForwardHook() {
  active_hook = previous_;
}

// ---- registration -------------------------------------------------------------------------------

void Module::check_new_name(const std::string& name, const char* what) const {
  AFN_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_, ": ", what, " name '",
            name, "' must be non-empty and contain no '.'");
  auto taken = [&](const auto& list) {
    for (const auto& [n, v] : list)
      if (n == name) return true;
    return false;
  };
  AFN_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name_,
            ": cannot register ", what, " '", name, "': the name is already taken");
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name, "parameter");
  AFN_CHECK(value.defined(), type_name_, ": parameter '", name, "' is undefined");
  AFN_CHECK(value.is_leaf(), type_name_, ": parameter '", name,
            "' must be a leaf tensor (detach() it first)");
  value.set_requires_grad(requires_grad);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name, "buffer");
  AFN_CHECK(value.defined(), type_name_, ": buffer '", name, "' is undefined");
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, ModulePtr module) {
  check_new_name(name, "module");
  AFN_CHECK(module != nullptr, type_name_, ": module '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

ModulePtr* Module::child_slot(const std::string& name) {
  for (auto& [n, m] : children_)
    if (n == name) return &m;
  return nullptr;
}

const ModulePtr* Module::child_slot(const std::string& name) const {
  return const_cast<Module*>(this)->child_slot(name);
}

std::string Module::child_names() const {
  if (children_.empty()) return "(none)";
  return join_limited(
      children_, [](const auto& c) { return c.first; }, children_.size());
}

bool Module::has_child(const std::string& name) const {
  return child_slot(name) != nullptr;
}

Module& Module::child(const std::string& name) const {
  const ModulePtr* slot = child_slot(name);
  AFN_CHECK(slot, type_name_, " has no child module '", name,
            "'; its children are: ", child_names());
  return **slot;
}

// ---- traversal ----------------------------------------------------------------------------------

// Calls fn(dotted_name, tensor) in PyTorch's order: own parameters, own buffers, then children.
template <typename Fn>
void Module::visit_tensors(const std::string& prefix, bool params, bool buffers, bool recurse,
                           Fn&& fn) const {
  if (params)
    for (const auto& [name, t] : params_) fn(prefix + name, t);
  if (buffers)
    for (const auto& [name, t] : buffers_) fn(prefix + name, t);
  if (!recurse) return;
  for (const auto& [name, m] : children_)
    m->visit_tensors(prefix + name + ".", params, buffers, true, fn);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  visit_tensors("", true, false, recurse, [&](const std::string& n, const Tensor& t) {
    if (seen.insert(t.impl()).second) out.emplace_back(n, t);
  });
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  visit_tensors("", false, true, recurse, [&](const std::string& n, const Tensor& t) {
    if (seen.insert(t.impl()).second) out.emplace_back(n, t);
  });
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedModules Module::named_modules() {
  AFN_CHECK(!weak_from_this().expired(), type_name_,
            ": named_modules() needs the module to be held by a std::shared_ptr "
            "(create it with std::make_shared)");
  NamedModules out;
  std::unordered_set<const Module*> seen;
  std::function<void(const std::string&, const ModulePtr&)> walk = [&](const std::string& prefix,
                                                                       const ModulePtr& m) {
    if (!seen.insert(m.get()).second) return;
    out.emplace_back(prefix, m);
    for (const auto& [name, c] : m->children_) walk(prefix.empty() ? name : prefix + "." + name, c);
  };
  walk("", shared_from_this());
  return out;
}

std::vector<ModulePtr> Module::children() const {
  std::vector<ModulePtr> out;
  for (const auto& [name, m] : children_) out.push_back(m);
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [name, m] : children_) m->apply(fn);
  fn(*this);
}

// ---- state --------------------------------------------------------------------------------------

StateDict Module::state_dict() const {
  StateDict sd;
  visit_tensors("", true, true, true,
                [&](const std::string& n, const Tensor& t) { sd.insert(n, t.detach()); });
  return sd;
}

LoadStateDictResult Module::load_state_dict(const StateDict& state_dict, bool strict) {
  LoadStateDictResult result;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (module tensor, source)
  std::unordered_set<std::string> own_keys;
  visit_tensors("", true, true, true, [&](const std::string& key, const Tensor& t) {
    own_keys.insert(key);
    if (!state_dict.contains(key)) {
      result.missing_keys.push_back(key);
      return;
    }
    const Tensor& src = state_dict.at(key);
    if (src.shape() != t.shape())
      result.mismatched.push_back({key, t.shape(), src.shape()});
    else
      copies.emplace_back(t, src);
  });
  for (const auto& [key, t] : state_dict)
    if (!own_keys.count(key)) result.unexpected_keys.push_back(key);

  AFN_CHECK(!strict || result.ok(), "load_state_dict (strict) into ", type_name_,
            ": nothing was loaded: ", result.str());
  NoGradGuard no_grad;  // in-place writes into leaves that require grad
  for (auto& [dst, src] : copies) {
    if (src.is_same(dst)) continue;
    dst.copy_(src.device() == dst.device() ? src : src.to(dst.device()));
  }
  return result;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, m] : children_) m->train(on);
}

void Module::to(const Device& device) {
  std::unordered_set<const TensorImpl*> seen;
  visit_tensors("", true, true, true, [&](const std::string&, const Tensor& t) {
    if (!seen.insert(t.impl()).second || t.device() == device) return;
    rebind_storage(t, t.detach().to(device));
    if (t.grad().defined()) rebind_storage(t.grad(), t.grad().to(device));
  });
}

void Module::to(MemoryFormat fmt) {
  std::unordered_set<const TensorImpl*> seen;
  visit_tensors("", true, true, true, [&](const std::string&, const Tensor& t) {
    if (!seen.insert(t.impl()).second || t.dim() != 4) return;
    rebind_storage(t, t.detach().to(fmt));
    if (t.grad().defined()) rebind_storage(t.grad(), t.grad().to(fmt));
  });
}

// ---- surgery ------------------------------------------------------------------------------------

ModulePtr Module::get_submodule(const std::string& path) {
  ModulePtr m = shared_from_this();
  std::string walked;
  std::istringstream parts(path);
  for (std::string part; !path.empty() && std::getline(parts, part, '.');) {
    const ModulePtr* slot = m->child_slot(part);
    AFN_CHECK(slot, "get_submodule('", path,
              "'): ", walked.empty() ? m->type_name() : walked + " (" + m->type_name() + ")",
              " has no child '", part, "'; its children are: ", m->child_names());
    m = *slot;
    walked += (walked.empty() ? "" : ".") + part;
  }
  return m;
}

void Module::replace_module(const std::string& path, ModulePtr module) {
  AFN_CHECK(!path.empty(), "replace_module: the path is empty (name a child, e.g. 'fc')");
  AFN_CHECK(module != nullptr, "replace_module('", path, "'): the new module is null");
  const size_t dot = path.rfind('.');
  ModulePtr parent = get_submodule(dot == std::string::npos ? "" : path.substr(0, dot));
  const std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
  ModulePtr* slot = parent->child_slot(name);
  AFN_CHECK(slot, "replace_module('", path, "'): ", parent->type_name(), " has no child '", name,
            "'; its children are: ", parent->child_names());
  *slot = std::move(module);
}

// ---- printing -----------------------------------------------------------------------------------

std::string Module::repr() const {
  std::vector<std::string> lines;
  const std::string extra = extra_repr();
  if (!extra.empty()) lines.push_back(extra);
  for (const auto& [name, m] : children_)
    lines.push_back("(" + name + "): " + indent_tail(m->repr()));
  std::string s = type_name_ + "(";
  if (lines.size() == 1 && children_.empty()) {
    s += lines[0];
  } else if (!lines.empty()) {
    for (const auto& l : lines) s += "\n  " + l;
    s += "\n";
  }
  return s + ")";
}

std::string py_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Python's repr: the shortest digits that round-trip, written in positional notation when the
  // decimal exponent is in [-4, 16), else scientific with at least two exponent digits.
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const std::string s(buf, sci.ptr);
  const int exponent = std::stoi(s.substr(s.find('e') + 1));
  if (exponent < -4 || exponent >= 16) return s;  // to_chars already writes "1e-05"
  auto fixed = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  std::string out(buf, fixed.ptr);
  if (out.find('.') == std::string::npos) out += ".0";
  return out;
}

}  // namespace afinar::nn
