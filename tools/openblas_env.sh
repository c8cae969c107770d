# Sourced by the scripts that run afinar: Debian's OpenBLAS 0.3.21 takes newer AVX-512 CPUs for
# Haswell and picks its AVX2 kernels; SkylakeX selects the AVX-512 ones (PERF.md). Only where the
# CPU has AVX-512, and never over a value the caller set.
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
fi
