// Tests that export Debian's Fashion-MNIST (dataset-fashion-mnist, installed by tools/setup.sh)
// as a small ImageFolder skip themselves, with the reason, on a machine that lacks it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "afinar/data/fashion_mnist.h"

namespace afinar::testing {

inline bool have_fashion_mnist() {
  return std::filesystem::exists(std::string(data::kFashionMnistDir) +
                                 "/train-images-idx3-ubyte.gz");
}

}  // namespace afinar::testing

#define SKIP_WITHOUT_FASHION_MNIST()               \
  if (!::afinar::testing::have_fashion_mnist())    \
  GTEST_SKIP() << ::afinar::data::kFashionMnistDir \
               << " is absent: install Debian's dataset-fashion-mnist (tools/setup.sh)"
