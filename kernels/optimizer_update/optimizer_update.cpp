// CUDA registrations of sgd_update / adam_update / rmsprop_update: the chunk table is built on the
// host and sent with an asynchronous copy (runtime/device_table.h), so an optimizer step never
// synchronises.
#include "optimizer_update/optimizer_update.h"

#include "afinar/ops/optimizer_update.h"
#include "runtime/context.h"
#include "runtime/device_table.h"

namespace afinar::cuda {

namespace {

template <typename T>
T* ptr_or_null(const std::vector<Tensor>& list, size_t i) {
  return list.empty() ? nullptr : list[i].data_ptr<T>();
}

// Cuts every tensor of the lists into chunks, uploads the table and calls launch(table, count).
template <typename T, typename Launch>
void for_chunk_table(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const std::vector<const std::vector<Tensor>*>& states, Launch&& launch) {
  std::vector<UpdateChunk<T>> chunks;
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t n = params[i].numel();
    for (int64_t start = 0; start < n; start += kUpdateChunk) {
      UpdateChunk<T> c{params[i].data_ptr<T>() + start,
                       grads[i].data_ptr<T>() + start,
                       {nullptr, nullptr, nullptr},
                       std::min(kUpdateChunk, n - start)};
      for (size_t s = 0; s < states.size(); ++s)
        if (T* base = ptr_or_null<T>(*states[s], i)) c.state[s] = base + start;
      chunks.push_back(c);
    }
  }
  const Device device = params[0].device();
  DeviceGuard guard(device.index);
  const Tensor table = upload_table(chunks, device);
  launch(reinterpret_cast<const UpdateChunk<T>*>(table.data_ptr<uint8_t>()), int64_t(chunks.size()),
         compute_stream(device.index));
}

void sgd_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& bufs, bool init, const SgdHyper& h) {
  visit_floating(params[0].dtype(), "sgd_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_chunk_table<T>(params, grads, {&bufs}, [&](auto* table, int64_t n, cudaStream_t s) {
      launch_sgd_update<T>(table, n, init, h, s);
    });
  });
}

void adam_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const std::vector<Tensor>& max_exp_avg_sqs, const AdamHyper& h) {
  visit_floating(params[0].dtype(), "adam_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_chunk_table<T>(
        params, grads, {&exp_avgs, &exp_avg_sqs, &max_exp_avg_sqs},
        [&](auto* table, int64_t n, cudaStream_t s) { launch_adam_update<T>(table, n, h, s); });
  });
}

void rmsprop_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                    const std::vector<Tensor>& momentum_buffers, const RmspropHyper& h) {
  visit_floating(params[0].dtype(), "rmsprop_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_chunk_table<T>(
        params, grads, {&square_avgs, &grad_avgs, &momentum_buffers},
        [&](auto* table, int64_t n, cudaStream_t s) { launch_rmsprop_update<T>(table, n, h, s); });
  });
}

}  // namespace

AFN_REGISTER_KERNEL(sgd_update, CUDA, sgd_update);
AFN_REGISTER_KERNEL(adam_update, CUDA, adam_update);
AFN_REGISTER_KERNEL(rmsprop_update, CUDA, rmsprop_update);

}  // namespace afinar::cuda
