// CPU reference of sgd_update / adam_update / rmsprop_update: the element rules of
// ops/optimizer_rule.h applied tensor by tensor (OpenMP inside the large ones).
#include "afinar/ops/optimizer_update.h"

namespace afinar::cpu {

namespace {

template <typename T>
T* ptr_or_null(const std::vector<Tensor>& list, size_t i) {
  return list.empty() ? nullptr : list[i].data<T>();
}

void sgd_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& bufs, bool init, const SgdHyper& hyper) {
  visit_floating(params[0].dtype(), "sgd_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < params.size(); ++i) {
      T* __restrict p = params[i].data<T>();
      const T* __restrict g = grads[i].data<T>();
      T* __restrict b = ptr_or_null<T>(bufs, i);
      const int64_t n = params[i].numel();
#pragma omp parallel if (n > 65536)
      {
        // Each thread's own copy of the scalars, and one loop with and one without a buffer: no
        // load in the loops that a store might alias and no per-element choice, so the compiler
        // vectorises them (the same expressions: the same roundings).
        const SgdHyper h = hyper;
        const bool first = init;
        if (b) {
#pragma omp for
          for (int64_t j = 0; j < n; ++j) sgd_update_element(p[j], g[j], b + j, first, h);
        } else {
#pragma omp for
          for (int64_t j = 0; j < n; ++j) sgd_update_element<T>(p[j], g[j], nullptr, first, h);
        }
      }
    }
  });
}

void adam_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const std::vector<Tensor>& max_exp_avg_sqs, const AdamHyper& hyper) {
  visit_floating(params[0].dtype(), "adam_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < params.size(); ++i) {
      T* __restrict p = params[i].data<T>();
      const T* __restrict g = grads[i].data<T>();
      T* __restrict m = exp_avgs[i].data<T>();
      T* __restrict v = exp_avg_sqs[i].data<T>();
      T* __restrict vmax = ptr_or_null<T>(max_exp_avg_sqs, i);
      const int64_t n = params[i].numel();
#pragma omp parallel if (n > 65536)
      {
        const AdamHyper h = hyper;  // as sgd_update: own scalars, one loop per set of buffers
        if (vmax) {
#pragma omp for
          for (int64_t j = 0; j < n; ++j) adam_update_element(p[j], g[j], m[j], v[j], vmax + j, h);
        } else {
#pragma omp for
          for (int64_t j = 0; j < n; ++j)
            adam_update_element<T>(p[j], g[j], m[j], v[j], nullptr, h);
        }
      }
    }
  });
}

void rmsprop_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                    const std::vector<Tensor>& momentum_buffers, const RmspropHyper& hyper) {
  visit_floating(params[0].dtype(), "rmsprop_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < params.size(); ++i) {
      T* __restrict p = params[i].data<T>();
      const T* __restrict g = grads[i].data<T>();
      T* __restrict s = square_avgs[i].data<T>();
      T* __restrict a = ptr_or_null<T>(grad_avgs, i);
      T* __restrict b = ptr_or_null<T>(momentum_buffers, i);
      const int64_t n = params[i].numel();
#pragma omp parallel if (n > 65536)
      {
        // As sgd_update: the thread's own scalars and one loop per set of buffers, so that the
        // loops vectorise.
        const RmspropHyper h = hyper;
        if (a && b) {
#pragma omp for
          for (int64_t j = 0; j < n; ++j) rmsprop_update_element(p[j], g[j], s[j], a + j, b + j, h);
        } else if (a) {
#pragma omp for
          for (int64_t j = 0; j < n; ++j)
            rmsprop_update_element<T>(p[j], g[j], s[j], a + j, nullptr, h);
        } else if (b) {
#pragma omp for
          for (int64_t j = 0; j < n; ++j)
            rmsprop_update_element<T>(p[j], g[j], s[j], nullptr, b + j, h);
        } else {
#pragma omp for
          for (int64_t j = 0; j < n; ++j)
            rmsprop_update_element<T>(p[j], g[j], s[j], nullptr, nullptr, h);
        }
      }
    }
  });
}

}  // namespace

AFN_REGISTER_KERNEL(sgd_update, CPU, sgd_update);
AFN_REGISTER_KERNEL(adam_update, CPU, adam_update);
AFN_REGISTER_KERNEL(rmsprop_update, CPU, rmsprop_update);

}  // namespace afinar::cpu
