// Optimizer: parameter groups and per-parameter state, as torch.optim.Optimizer.
//
// Each group holds its tensors and its hyper-parameters by PyTorch's names ("lr", "momentum",
// "weight_decay", "betas" as "beta1"/"beta2", ...); keys a group does not set take the
// optimizer's defaults, and a key the optimizer does not know is an error naming it. Schedulers
// change group options (mostly "lr") between steps. Parameters that are frozen
// (requires_grad = false) or that received no gradient are skipped: no state, no update, and
// their step count does not advance — exactly as PyTorch, where such grads are None.
//
//   SGD opt(model.parameters(), {.lr = 0.01, .momentum = 0.9});
//   opt.add_param_group(head_params, {{"lr", 0.1}});        // a second group, its own lr
//   loss.backward(); opt.step(); opt.zero_grad();
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/nn/state_dict.h"

namespace afinar::optim {

using Options = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  Options options;  // every key of the optimizer's defaults, always present
  // The lr schedules start from (PyTorch's group["initial_lr"]): set by the first scheduler.
  std::optional<double> initial_lr;
  double get(const std::string& key) const;
  void set(const std::string& key, double value);  // an unknown key is an error
};

// A parameter's optimizer state: its step count and named buffers (momentum_buffer, exp_avg...).
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Appends a group. A parameter already in a group, an unknown option key or an invalid value
  // is an error; the new group's options are validated like the defaults.
  void add_param_group(std::vector<Tensor> params, const Options& options = {});
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }

  // One update of every parameter that has a gradient.
  void step();
  // Clears gradients: undefined (PyTorch's set_to_none=True default) or zero-filled.
  void zero_grad(bool set_to_none = true);

  // The state of `param`, or nullptr before its first update.
  const ParamState* state(const Tensor& param) const;

  // For checkpoints, PyTorch's layout flattened to tensors: "state.<i>.<buffer>" and
  // "state.<i>.step" (int64 0-D), "param_groups.<g>.<option>" (f64 0-D, and
  // "param_groups.<g>.initial_lr" once a scheduler set it), with i numbering the parameters
  // across groups in order. load_state_dict needs the same groups and shapes.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& sd);

  virtual const char* name() const = 0;

 protected:
  explicit Optimizer(Options defaults) : defaults_(std::move(defaults)) {}
  // Throws when an option value is invalid (negative lr, beta outside [0, 1), ...).
  virtual void validate(const Options& options) const = 0;
  // Updates `params` (all have a gradient, all of one dtype and device) of `group`.
  virtual void update(const ParamGroup& group, const std::vector<Tensor>& params,
                      std::vector<ParamState*>& states) = 0;

 private:
  Options defaults_;
  std::vector<ParamGroup> groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

// The parameters of `opt`'s groups that have a gradient now, in group order (what step() updates,
// GradScaler unscales and clip_grad_norm_ clips).
std::vector<Tensor> params_with_grad(const Optimizer& opt);

// `t` (a gradient or a state buffer of `param`) dense in param's memory format, copied only when
// it is not: the update kernels run over a parameter and its tensors as flat arrays, element i
// of each the same element (a state loaded from a file is contiguous, the parameter may be
// channels-last).
Tensor in_param_format(const Tensor& t, const Tensor& param);
// The gradients of `params`, each in_param_format.
std::vector<Tensor> grads_of(const std::vector<Tensor>& params);

// The tensors of `states[i]->buffers[key]`, one per parameter, made as zeros like `params[i]`
// when missing (PyTorch's zeros_like state initialisation), in params[i]'s memory format.
std::vector<Tensor> state_buffers(const std::vector<Tensor>& params,
                                  std::vector<ParamState*>& states, const std::string& key);

}  // namespace afinar::optim
