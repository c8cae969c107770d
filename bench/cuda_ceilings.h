// Device ceilings measured in the same run as the benchmarks, so every GPU figure can be given as
// a fraction of what this device actually does (PERF.md): the device-to-device copy rate (bytes
// read + written) and the cuBLAS float32 GEMM rate at 4096³ without TF32.
#pragma once

#include <benchmark/benchmark.h>

#include <functional>

namespace afinar::bench {

// Seconds per call of fn(), which queues work on the GPU: warm-up, then the median of several
// timed batches, each closed by a device synchronisation.
double time_cuda(const std::function<void()>& fn, int reps = 20);

double copy_bandwidth_bytes_per_s();  // measured once, cached

// False, with the benchmark marked skipped, when no GPU is visible:
//   if (!bench::gpu_available(state)) return;
bool gpu_available(benchmark::State& state);
// Times op (time_cuda), records it as the iteration time (UseManualTime), and reports GB/s and
// frac_copy for `bytes` moved per call (each array read or written once). Returns the seconds.
double report_memory_bound(benchmark::State& state, double bytes, const std::function<void()>& op);
double cublas_sgemm_flops_per_s();  // measured once, cached

}  // namespace afinar::bench
