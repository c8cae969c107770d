// Parameter initialisation, as torch.nn.init, drawing from afinar's Philox generators (so the
// distributions are PyTorch's, the exact values are not: PyTorch's generator is a different one).
//
//   init::kaiming_normal_(conv->weight(), 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
//   init::constant_(bn->bias(), 0.0);
//
// Each function writes the tensor in place (without recording autograd) and returns nothing.
// Fans follow torch.nn.init._calculate_fan_in_and_fan_out for a weight [out, in, *kernel]:
//   fan_in = in · prod(kernel),  fan_out = out · prod(kernel).
// Kaiming (He et al. 2015): std = gain / sqrt(fan), gain = sqrt(2 / (1 + a²)) for leaky_relu with
// negative slope a, sqrt(2) for relu, 1 for linear; the uniform version draws U(-b, b) with
// b = sqrt(3) · std. PyTorch's default for Conv2d and Linear is kaiming_uniform_ with a = sqrt(5),
// i.e. b = 1 / sqrt(fan_in), and the bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
//
// SkipInitGuard: models built while one lives keep the zeros their parameters were created with
// and draw no random numbers, like torch.nn.utils.skip_init: for weights that are loaded right
// after (import, predict, summary), it saves the time of drawing ~10^8 numbers for VGG.
#pragma once

#include <cstdint>

#include "afinar/core/rng.h"
#include "afinar/core/tensor.h"

namespace afinar::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, ReLU, LeakyReLU };

struct Fans {
  int64_t fan_in, fan_out;
};
// The fans of a weight of at least 2 dims (an error names the shape otherwise).
Fans calculate_fans(const Shape& weight_shape);
// torch.nn.init.calculate_gain; `param` is leaky_relu's negative slope.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);

void uniform_(const Tensor& t, double low, double high, Generator& gen = default_generator());
void normal_(const Tensor& t, double mean, double std, Generator& gen = default_generator());
void constant_(const Tensor& t, double value);
void kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                      Generator& gen = default_generator());
void kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                     Generator& gen = default_generator());

// While one lives on this thread, the functions above leave tensors unchanged.
class SkipInitGuard {
 public:
  SkipInitGuard();
  ~SkipInitGuard();
  SkipInitGuard(const SkipInitGuard&) = delete;
  SkipInitGuard& operator=(const SkipInitGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace afinar::nn::init
