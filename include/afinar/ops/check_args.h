// Argument checks shared by the op front ends: each names the op and the argument, and prints
// the shapes, dtypes and devices involved, so a user can see what to change.
#pragma once

#include "afinar/core/tensor.h"

namespace afinar::ops {

// `t` is defined, has `ndim` dimensions (skip with -1) and a floating dtype.
void check_floating(const Tensor& t, const char* op, const char* arg, int64_t ndim = -1);
// Same dtype and device as `ref` (never a silent conversion or device move).
void check_same_dtype_device(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                             const char* ref_arg);
// Same shape as `ref` (never a silent broadcast).
void check_same_shape(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                      const char* ref_arg);

}  // namespace afinar::ops
