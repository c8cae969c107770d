// Front end of sgd_update / adam_update / rmsprop_update: every list the same length, every tensor
// of the parameter's shape, dtype and device and dense in the parameter's memory format (contiguous
// or channels-last: the kernels run over flat storage); then one kernel call for the whole list.
#include "afinar/ops/optimizer_update.h"

#include "afinar/ops/check_args.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(sgd_update, SgdUpdateFn)
AFN_DEFINE_KERNEL(adam_update, AdamUpdateFn)
AFN_DEFINE_KERNEL(rmsprop_update, RmspropUpdateFn)

namespace {

// `list` matches params one to one (or is empty when `optional`).
void check_state_list(const std::vector<Tensor>& params, const std::vector<Tensor>& list,
                      const char* op, const char* what, bool optional) {
  if (optional && list.empty()) return;
  AFN_CHECK(list.size() == params.size(), op, ": ", list.size(), " ", what, " for ", params.size(),
            " parameters");
  for (size_t i = 0; i < params.size(); ++i) {
    check_same_dtype_device(list[i], params[i], op, what, "param");
    check_same_shape(list[i], params[i], op, what, "param");
    AFN_CHECK(list[i].is_contiguous(suggest_memory_format(params[i])), op, ": ", what, " ", i,
              " is not dense in its parameter's memory format (strides ", list[i].strides(),
              ", parameter strides ", params[i].strides(), ")");
  }
}

// The device of the call (every tensor's), or nothing to do.
bool check_params(const std::vector<Tensor>& params, const char* op) {
  if (params.empty()) return false;
  for (size_t i = 0; i < params.size(); ++i) {
    check_floating(params[i], op, "param");
    check_same_dtype_device(params[i], params[0], op, "param", "the first param");
    AFN_CHECK(params[i].is_contiguous(suggest_memory_format(params[i])), op, ": parameter ", i,
              " (shape ", params[i].shape(), ", strides ", params[i].strides(),
              ") is neither contiguous nor channels-last; optimizers update parameters in place");
  }
  return true;
}

}  // namespace

void sgd_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& momentum_buffers, bool init_buffers,
                const SgdHyper& hyper) {
  if (!check_params(params, "sgd_update")) return;
  check_state_list(params, grads, "sgd_update", "grads", false);
  check_state_list(params, momentum_buffers, "sgd_update", "momentum buffers", true);
  AFN_CHECK(momentum_buffers.empty() == (hyper.momentum == 0),
            "sgd_update: momentum buffers are needed exactly when momentum != 0");
  sgd_update_kernels().get(params[0].device())(params, grads, momentum_buffers, init_buffers,
                                               hyper);
}

void adam_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const std::vector<Tensor>& max_exp_avg_sqs, const AdamHyper& hyper) {
  if (!check_params(params, "adam_update")) return;
  check_state_list(params, grads, "adam_update", "grads", false);
  check_state_list(params, exp_avgs, "adam_update", "exp_avgs", false);
  check_state_list(params, exp_avg_sqs, "adam_update", "exp_avg_sqs", false);
  check_state_list(params, max_exp_avg_sqs, "adam_update", "max_exp_avg_sqs", true);
  AFN_CHECK(max_exp_avg_sqs.empty() != hyper.amsgrad,
            "adam_update: max_exp_avg_sqs are needed exactly when amsgrad is on");
  adam_update_kernels().get(params[0].device())(params, grads, exp_avgs, exp_avg_sqs,
                                                max_exp_avg_sqs, hyper);
}

void rmsprop_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                    const std::vector<Tensor>& momentum_buffers, const RmspropHyper& hyper) {
  if (!check_params(params, "rmsprop_update")) return;
  check_state_list(params, grads, "rmsprop_update", "grads", false);
  check_state_list(params, square_avgs, "rmsprop_update", "square_avgs", false);
  check_state_list(params, grad_avgs, "rmsprop_update", "grad_avgs", true);
  check_state_list(params, momentum_buffers, "rmsprop_update", "momentum buffers", true);
  AFN_CHECK(grad_avgs.empty() != hyper.centered,
            "rmsprop_update: grad_avgs are needed exactly when centered is on");
  AFN_CHECK(momentum_buffers.empty() == (hyper.momentum == 0),
            "rmsprop_update: momentum buffers are needed exactly when momentum != 0");
  rmsprop_update_kernels().get(params[0].device())(params, grads, square_avgs, grad_avgs,
                                                   momentum_buffers, hyper);
}

}  // namespace afinar::ops
