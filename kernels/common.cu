// Compiles common.cuh on its own so the CUDA toolchain is exercised in every build, before the
// op kernels arrive (each op gets its own folder under kernels/).
#include "common.cuh"
