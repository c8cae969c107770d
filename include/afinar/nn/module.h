// Module: the base of every layer and model, as torch.nn.Module. A module owns named parameters
// (trainable tensors), named buffers (state such as BatchNorm's running statistics) and named
// child modules, all in registration order, so that the dotted names and their order equal
// PyTorch's state_dict keys:
//
//   auto model = nn::resnet18(10);
//   for (auto& [name, p] : model->named_parameters()) std::cout << name << " " << p.shape();
//   model->replace_module("fc", std::make_shared<nn::Linear>(512, 3));
//   model->eval();
//   Tensor logits = (*model)(x);                      // forward, plus any active forward hook
//   StateDict sd = model->state_dict();               // params and buffers, detached
//   auto report = model->load_state_dict(sd, false);  // non-strict: missing / unexpected / ...
//   std::cout << *model;                              // PyTorch's repr: "ResNet(\n  (conv1): ..."
//
// Modules are held by std::shared_ptr (children are shared, as in PyTorch: a Sequential made from
// a model's children shares them). Parameters and buffers are Tensor handles: the handle a module
// gives out is the module's own tensor, so set_requires_grad on it freezes that parameter, and an
// optimizer holding it sees load_state_dict's values (copied in place) and to()'s new device.
//
// Order (PyTorch's): a module's own parameters, then its own buffers, then each child recursively.
// named_parameters() / named_buffers() are the parameter / buffer subsequences of that order;
// state_dict() is the whole of it.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/core/tensor.h"
#include "afinar/nn/state_dict.h"

namespace afinar::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using NamedModules = std::vector<std::pair<std::string, ModulePtr>>;

// What a non-strict load_state_dict did not load. A strict load throws an error listing the same.
struct LoadStateDictResult {
  struct ShapeMismatch {
    std::string key;
    Shape expected;  // the module's
    Shape got;       // the state_dict's
  };
  std::vector<std::string> missing_keys;     // in the module, absent from the state_dict
  std::vector<std::string> unexpected_keys;  // in the state_dict, absent from the module
  std::vector<ShapeMismatch> mismatched;     // in both with different shapes (not loaded)
  bool ok() const { return missing_keys.empty() && unexpected_keys.empty() && mismatched.empty(); }
  // "2 missing keys: a, b; 1 shape mismatch: fc.weight (model [10, 512], state_dict [1000, 512])"
  std::string str() const;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // PyTorch's class name: "Conv2d", "Sequential", "ResNet".
  const std::string& type_name() const { return type_name_; }

  virtual Tensor forward(const Tensor& x) = 0;
  // forward(x), then the active forward hook (ScopedForwardHook) if there is one. Modules call
  // their children through this, so a hook sees every module that runs.
  Tensor operator()(const Tensor& x);

  // ---- registration (names: non-empty, no '.', unique within the module) ----
  // A parameter must be a floating leaf tensor; requires_grad is set on it. Returns the handle.
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal (PyTorch's names and order) ----
  // Shared tensors and modules are listed once (the first name), as PyTorch does.
  NamedTensors named_parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  // Every module in pre-order, this one first under the name "".
  NamedModules named_modules();
  NamedModules named_children() const { return children_; }
  std::vector<ModulePtr> children() const;
  // fn(module) for every submodule and then this one (PyTorch's apply: children first). Works
  // inside a constructor, where named_modules() cannot (no shared_ptr owns the module yet).
  void apply(const std::function<void(Module&)>& fn);

  // ---- state ----
  // Parameters and buffers under their dotted names, detached (sharing storage with the module).
  StateDict state_dict() const;
  // Copies the values in place (converted to each tensor's dtype and device). strict: every key
  // must match in name and shape, else an error lists what did not and nothing is loaded.
  // Non-strict: loads the keys that match and returns the others.
  LoadStateDictResult load_state_dict(const StateDict& state_dict, bool strict = true);

  // Training mode, recursively (BatchNorm's batch statistics, Dropout).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer (and gradient) to `device`, in place: the handles stay the
  // same leaf tensors with the same requires_grad. A no-op for tensors already there.
  void to(const Device& device);
  // Stores every 4-D parameter and buffer (and gradient) in `fmt`, in place, as PyTorch's
  // module.to(memory_format=...): with MemoryFormat::ChannelsLast the convolutions' weights
  // become [K, R, S, C] in memory, and convolutions then run channels-last.
  void to(MemoryFormat fmt);

  // ---- surgery ----
  // The module at a dotted path of child names ("layer1.0", "classifier.6"; "" is this one).
  ModulePtr get_submodule(const std::string& path);
  template <typename M>
  std::shared_ptr<M> get_submodule_as(const std::string& path) {
    auto m = std::dynamic_pointer_cast<M>(get_submodule(path));
    AFN_CHECK(m != nullptr, "get_submodule_as: '", path, "' is a ",
              get_submodule(path)->type_name(), ", not the type asked for");
    return m;
  }
  // Replaces an existing child (`model.fc = nn.Linear(...)`): "fc", "classifier.6", "avgpool".
  void replace_module(const std::string& path, ModulePtr module);

  // ---- fusion ----
  // Pairs of this module's children (conv, bn) whose forward feeds the convolution's output to the
  // batch norm and to nothing else: what nn::fuse_conv_bn may fold (nn/fuse.h). None by default;
  // Sequential lists its adjacent children, ResNet and its blocks their convN / bnN.
  virtual std::vector<std::pair<std::string, std::string>> conv_bn_pairs() const { return {}; }

  // ---- printing ----
  // PyTorch's repr: "Name(extra)" for a leaf, children indented on their own lines.
  std::string repr() const;
  // The constructor arguments shown between the parentheses ("3, 64, kernel_size=(7, 7), ...").
  virtual std::string extra_repr() const { return ""; }
  // Containers (Sequential) only chain their children; summary() lists no row for them.
  virtual bool is_container() const { return false; }

 protected:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  // The child registered under `name`; an error naming the children if there is none.
  Module& child(const std::string& name) const;
  bool has_child(const std::string& name) const;
  void add_child(const std::string& name, ModulePtr module);
  const NamedModules& child_list() const { return children_; }

 private:
  void check_new_name(const std::string& name, const char* what) const;
  ModulePtr* child_slot(const std::string& name);  // null when there is no such child
  const ModulePtr* child_slot(const std::string& name) const;
  std::string child_names() const;  // "conv1, bn1, ..." for error messages
  template <typename Fn>
  void visit_tensors(const std::string& prefix, bool params, bool buffers, bool recurse,
                     Fn&& fn) const;

  std::string type_name_;
  bool training_ = true;
  NamedTensors params_, buffers_;
  NamedModules children_;
};

inline std::ostream& operator<<(std::ostream& os, const Module& m) {
  return os << m.repr();
}

// A callback that Module::operator() calls after each forward, with the module, its input and its
// output, while an instance of this guard lives on the calling thread (summary(), profilers).
// Guards nest: the innermost one is active.
using ForwardHook = std::function<void(Module& module, const Tensor& input, const Tensor& output)>;
class ScopedForwardHook {
 public:
  explicit ScopedForwardHook(ForwardHook hook);
  ~ScopedForwardHook();
  ScopedForwardHook(const ScopedForwardHook&) = delete;
  ScopedForwardHook& operator=(const ScopedForwardHook&) = delete;

 private:
  ForwardHook hook_;
  const ForwardHook* previous_;
};

// Whether a ScopedForwardHook is active on this thread: modules that fuse their children's work
// (ResNet's blocks) run the children one by one instead, so the hook sees each of them.
bool forward_hook_active();

// Python's repr of a float and a bool, for extra_repr: 1e-05, 0.1, 0.0001, 1.0; True / False.
std::string py_repr(double value);
inline const char* py_repr(bool value) {
  return value ? "True" : "False";
}

}  // namespace afinar::nn
