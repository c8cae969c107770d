// Folding batch norm into the convolution before it, for inference: in eval mode a batch norm is a
// per-channel affine map of its input, so conv -> bn is one convolution with new weights
// (torch.nn.utils.fusion.fuse_conv_bn_weights / fuse_conv_bn_eval, the same formulas in the same
// float order, so the folded weights are PyTorch's bit for bit):
//   s[k]  = γ[k] · rsqrt(running_var[k] + eps)
//   W'[k] = W[k] · s[k]                                  (every [C/G, R, S] slice of output k)
//   b'[k] = (b[k] - running_mean[k]) · rsqrt(running_var[k] + eps) · γ[k] + β[k]
// with b = 0 when the convolution has no bias, γ = 1 and β = 0 without affine parameters.
// A ResNet folded this way runs each block's conv -> bn -> (add) -> relu as one conv2d_add_relu,
// which saves the batch norm's pass over the activations.
//
//   model->eval();
//   nn::fuse_conv_bn(*model);           // every foldable pair; the batch norms become Identity
//   Tensor logits = (*model)(x);        // the same function, rounded differently (float32 ~1e-6)
//
// Training mode cannot be folded (the batch norm normalises with the batch's statistics there), as
// in PyTorch. The folded model's state_dict has the convolutions' new biases and no batch norm
// entries, like torch.ao.quantization.fuse_modules' result.
#pragma once

#include <cstddef>
#include <memory>

#include "afinar/core/tensor.h"
#include "afinar/nn/layers.h"

namespace afinar::nn {

struct FusedConvWeights {
  Tensor weight, bias;
};

// The folded weight and bias (formulas at the top), on the convolution weight's device and in its
// dtype and memory format. conv_bias, bn_weight and bn_bias may be undefined (see the top); the
// per-channel tensors must have conv_weight.size(0) elements.
FusedConvWeights fuse_conv_bn_weights(const Tensor& conv_weight, const Tensor& conv_bias,
                                      const Tensor& running_mean, const Tensor& running_var,
                                      double eps, const Tensor& bn_weight, const Tensor& bn_bias);

// A new Conv2d computing bn(conv(x)) in eval mode (conv and bn untouched). Both must be in eval
// mode and bn must keep running statistics. The new parameters' requires_grad is the convolution
// weight's.
std::shared_ptr<Conv2d> fuse_conv_bn_eval(const Conv2d& conv, const BatchNorm2d& bn);

// Folds, in place, every (Conv2d, BatchNorm2d) pair that a module lists in conv_bn_pairs()
// (Sequential's adjacent children, ResNet's convN / bnN): the convolution is replaced by the
// folded one and the batch norm by an Identity. Pairs of other types, and batch norms without
// running statistics, are left alone. The model must be in eval mode. Returns the number folded.
size_t fuse_conv_bn(Module& model);

}  // namespace afinar::nn
