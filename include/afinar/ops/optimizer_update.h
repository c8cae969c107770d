// optimizer_update: sgd_update, adam_update and rmsprop_update, one optimizer step over a list of
// tensors — one call per parameter group, dtype and device, so the CUDA backend updates the whole
// group in one launch (a multi-tensor kernel) instead of one launch per tensor. The per-element
// math is in ops/optimizer_rule.h; torch.optim.SGD / Adam / AdamW / RMSprop call these updates.
#pragma once

#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"
#include "afinar/ops/optimizer_rule.h"

namespace afinar::ops {

// params[i] -= ... in place, from grads[i]. momentum_buffers: one per param (updated in place;
// initialised from the step when init_buffers) or empty when momentum is 0.
void sgd_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& momentum_buffers, bool init_buffers,
                const SgdHyper& hyper);
// exp_avgs / exp_avg_sqs: one per param, updated in place; max_exp_avg_sqs likewise when
// hyper.amsgrad, else empty. Every parameter of the call is at the same step (in hyper).
void adam_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const std::vector<Tensor>& max_exp_avg_sqs, const AdamHyper& hyper);
// square_avgs: one per param; grad_avgs when hyper.centered and momentum_buffers when
// hyper.momentum > 0 likewise, else empty; all updated in place.
void rmsprop_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                    const std::vector<Tensor>& momentum_buffers, const RmspropHyper& hyper);

// Backend kernels: every tensor contiguous, of one dtype and device, list lengths checked.
using SgdUpdateFn = void(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         const std::vector<Tensor>& momentum_buffers, bool init_buffers,
                         const SgdHyper& hyper);
using AdamUpdateFn = void(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                          const std::vector<Tensor>& exp_avgs,
                          const std::vector<Tensor>& exp_avg_sqs,
                          const std::vector<Tensor>& max_exp_avg_sqs, const AdamHyper& hyper);
using RmspropUpdateFn = void(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             const std::vector<Tensor>& square_avgs,
                             const std::vector<Tensor>& grad_avgs,
                             const std::vector<Tensor>& momentum_buffers,
                             const RmspropHyper& hyper);
AFN_DECLARE_KERNEL(sgd_update, SgdUpdateFn);
AFN_DECLARE_KERNEL(adam_update, AdamUpdateFn);
AFN_DECLARE_KERNEL(rmsprop_update, RmspropUpdateFn);

}  // namespace afinar::ops
