// AFN_CUDA_LAUNCH_CHECK(): written after every kernel launch. Checks cudaGetLastError() and, with
// AFINAR_CUDA_SYNC=1 in the environment, synchronises first so an asynchronous fault is reported
// at the launch that caused it. Plain C++ (usable from .cu files); defined in cuda_check.cpp.
#pragma once

namespace afinar::cuda {
void launch_check(const char* file, int line);
}

#define AFN_CUDA_LAUNCH_CHECK() ::afinar::cuda::launch_check(__FILE__, __LINE__)
