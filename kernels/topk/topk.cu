// argmax and topk on [outer, C, inner] blocks, one "line" of C elements (stride inner) per
// (outer, inner) pair.
//
// Order: each element gets an unsigned rank key, smaller = ranks earlier, so that comparing
// (key, index) pairs lexicographically is exactly the CPU's TopkOrder: NaN before every number
// for largest (after every number for smallest), -0 equal to +0, ties by lower index. The key is
// the IEEE bit pattern made monotonic (flip all bits of negatives, the sign bit of positives),
// inverted for largest. The values written are read back from x, so NaN payloads and signed
// zeros come out as they went in.
//
// argmax: a 2-D block, bx threads along inner (coalesced) and by threads splitting the line;
//   (key, index) minima merged in shared memory. inner == 1 gives a block of up to 256 threads
//   reading one row.
// topk, WarpSelect (k <= 32): a warp per line makes k passes, pass r taking the minimum pair
//   strictly after the one pass r - 1 took: O(k C) reads of a line that stays in L1/L2, results
//   already sorted.
// topk, BitonicSort (C <= 4096): a block per line sorts (key, index) pairs in shared memory
//   (padded to a power of two with pairs that rank last) and writes the first k.
// topk, RadixSort (otherwise): keys and indices gathered into a workspace, sorted per line by
//   cub::DeviceSegmentedRadixSort (stable, so ties keep ascending index order), first k
//   scattered back. Lines are sorted in chunks of at most 2^30 elements (CUB counts in int).
// topk backward: grad_input is zero-filled by the caller; one thread per line adds its k
//   gradients in order r = 0..k-1, as the CPU does.
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <algorithm>
#include <climits>
#include <cub/device/device_segmented_radix_sort.cuh>

#include "common.cuh"
#include "runtime/launch_check.h"
#include "topk/topk.h"

namespace afinar::cuda {

namespace {

constexpr int kBlock = 256;
constexpr int kMaxWarpSelectK = 32;
constexpr int64_t kMaxBitonic = 4096;
constexpr int64_t kMaxSortItems = int64_t(1) << 30;

template <typename T>
struct KeyOf;
template <>
struct KeyOf<float> {
  using type = uint32_t;
};
template <>
struct KeyOf<double> {
  using type = uint64_t;
};

__device__ __forceinline__ uint32_t bits_of(float v) {
  return __float_as_uint(v);
}
__device__ __forceinline__ uint64_t bits_of(double v) {
  return static_cast<uint64_t>(__double_as_longlong(v));
}

template <typename T>
__device__ __forceinline__ typename KeyOf<T>::type rank_key(T v, bool largest) {
  using K = typename KeyOf<T>::type;
  constexpr K kSign = K(1) << (sizeof(K) * 8 - 1);
  if (isnan(v)) return largest ? K(0) : ~K(0);
  const K b = bits_of(v == T(0) ? T(0) : v);  // -0 ranks as +0
  const K ordered = (b & kSign) ? ~b : (b | kSign);
  return largest ? ~ordered : ordered;
}

template <typename K>
struct KeyIdx {
  K key;
  int64_t idx;
};

template <typename K>
__device__ __forceinline__ bool before(const KeyIdx<K>& a, const KeyIdx<K>& b) {
  return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

template <typename K>
__device__ __forceinline__ KeyIdx<K> last_pair() {
  return {~K(0), INT64_MAX};
}

template <typename K>
__device__ __forceinline__ KeyIdx<K> warp_min(KeyIdx<K> a) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const KeyIdx<K> o{__shfl_xor_sync(0xffffffffu, a.key, offset),
                      __shfl_xor_sync(0xffffffffu, a.idx, offset)};
    if (before(o, a)) a = o;
  }
  return a;
}

// ---- argmax --------------------------------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(kBlock)
    argmax_kernel(int64_t* __restrict__ out, const T* __restrict__ x, int64_t outer, int64_t C,
                  int64_t inner) {
  using K = typename KeyOf<T>::type;
  __shared__ K keys[kBlock];
  __shared__ int64_t idxs[kBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t tiles_per_outer = (inner + bx - 1) / bx, tiles = outer * tiles_per_outer;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t o = tile / tiles_per_outer, i = (tile % tiles_per_outer) * bx + tx;
    const bool active = i < inner;
    const T* line = x + o * C * inner + i;
    KeyIdx<K> best = last_pair<K>();
    if (active)
      for (int64_t c = ty; c < C; c += by) {
        const KeyIdx<K> cand{rank_key(line[c * inner], true), c};
        if (before(cand, best)) best = cand;
      }
    keys[ty * bx + tx] = best.key;
    idxs[ty * bx + tx] = best.idx;
    __syncthreads();
    for (int h = by / 2; h > 0; h /= 2) {
      if (ty < h) {
        const KeyIdx<K> other{keys[(ty + h) * bx + tx], idxs[(ty + h) * bx + tx]};
        if (before(other, best)) {
          best = other;
          keys[ty * bx + tx] = best.key;
          idxs[ty * bx + tx] = best.idx;
        }
      }
      __syncthreads();
    }
    if (ty == 0 && active) out[o * inner + i] = best.idx;
    __syncthreads();  // the next tile rewrites keys / idxs
  }
}

// ---- topk: WarpSelect ----------------------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(kBlock)
    topk_warp_select_kernel(T* __restrict__ values, int64_t* __restrict__ indices,
                            const T* __restrict__ x, int64_t outer, int64_t C, int64_t inner, int k,
                            bool largest) {
  using K = typename KeyOf<T>::type;
  const int lane = threadIdx.x % 32;
  const int64_t lines = outer * inner;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t l = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; l < lines; l += warps) {
    const int64_t o = l / inner, i = l % inner;
    const T* line = x + o * C * inner + i;
    KeyIdx<K> prev{K(0), -1};  // ranks before every pair: (0, -1)
    for (int r = 0; r < k; ++r) {
      KeyIdx<K> best = last_pair<K>();
      for (int64_t c = lane; c < C; c += 32) {
        const KeyIdx<K> cand{rank_key(line[c * inner], largest), c};
        if (before(prev, cand) && before(cand, best)) best = cand;
      }
      best = warp_min(best);
      if (lane == 0) {
        const int64_t dst = (o * k + r) * inner + i;
        values[dst] = line[best.idx * inner];
        indices[dst] = best.idx;
      }
      prev = best;
    }
  }
}

// ---- topk: BitonicSort ---------------------------------------------------------------------
// Dynamic shared memory: P keys, then P int indices. P = power of two >= C, <= kMaxBitonic.
template <typename T>
__global__ void __launch_bounds__(kBlock)
    topk_bitonic_kernel(T* __restrict__ values, int64_t* __restrict__ indices,
                        const T* __restrict__ x, int64_t outer, int64_t C, int64_t inner, int k,
                        bool largest, int P) {
  using K = typename KeyOf<T>::type;
  extern __shared__ __align__(16) unsigned char smem[];
  K* keys = reinterpret_cast<K*>(smem);
  int* idx = reinterpret_cast<int*>(keys + P);
  const int64_t lines = outer * inner;
  for (int64_t l = blockIdx.x; l < lines; l += gridDim.x) {
    const int64_t o = l / inner, i = l % inner;
    const T* line = x + o * C * inner + i;
    for (int j = threadIdx.x; j < P; j += blockDim.x) {
      const bool real = j < C;
      keys[j] = real ? rank_key(line[j * inner], largest) : ~K(0);
      idx[j] = real ? j : INT_MAX;  // padding ranks after every real pair
    }
    __syncthreads();
    for (int size = 2; size <= P; size *= 2)
      for (int stride = size / 2; stride > 0; stride /= 2) {
        for (int t = threadIdx.x; t < P / 2; t += blockDim.x) {
          const int lo = 2 * t - (t & (stride - 1)), hi = lo + stride;
          const bool ascending = (lo & size) == 0;
          const KeyIdx<K> a{keys[lo], idx[lo]}, b{keys[hi], idx[hi]};
          if (before(b, a) == ascending) {
            keys[lo] = b.key;
            idx[lo] = int(b.idx);
            keys[hi] = a.key;
            idx[hi] = int(a.idx);
          }
        }
        __syncthreads();
      }
    for (int r = threadIdx.x; r < k; r += blockDim.x) {
      const int64_t dst = (o * k + r) * inner + i;
      values[dst] = line[int64_t(idx[r]) * inner];
      indices[dst] = idx[r];
    }
    __syncthreads();  // the next line rewrites keys / idx
  }
}

// ---- topk: RadixSort -----------------------------------------------------------------------
template <typename T>
__global__ void topk_gather_keys_kernel(typename KeyOf<T>::type* __restrict__ keys,
                                        int* __restrict__ idx, const T* __restrict__ x,
                                        int64_t first_line, int64_t lines, int64_t C, int64_t inner,
                                        bool largest) {
  AFN_GRID_STRIDE_LOOP(e, lines * C) {
    const int64_t l = first_line + e / C, c = e % C;
    const int64_t o = l / inner, i = l % inner;
    keys[e] = rank_key(x[(o * C + c) * inner + i], largest);
    idx[e] = int(c);
  }
}

template <typename T>
__global__ void topk_scatter_sorted_kernel(T* __restrict__ values, int64_t* __restrict__ indices,
                                           const int* __restrict__ sorted_idx,
                                           const T* __restrict__ x, int64_t first_line,
                                           int64_t lines, int64_t C, int64_t inner, int64_t k) {
  AFN_GRID_STRIDE_LOOP(e, lines * k) {
    const int64_t local = e / k, r = e % k, l = first_line + local;
    const int64_t o = l / inner, i = l % inner;
    const int64_t j = sorted_idx[local * C + r];
    const int64_t dst = (o * k + r) * inner + i;
    values[dst] = x[(o * C + j) * inner + i];
    indices[dst] = j;
  }
}

// Segment s of a chunk starts at s * C.
struct SegmentOffset {
  int64_t C;
  __host__ __device__ int operator()(int s) const { return int(int64_t(s) * C); }
};

size_t round_up(size_t n) {
  return (n + 255) / 256 * 256;
}

// ---- topk backward -------------------------------------------------------------------------
template <typename T>
__global__ void topk_backward_kernel(T* __restrict__ gi, const T* __restrict__ gv,
                                     const int64_t* __restrict__ indices, int64_t outer, int64_t C,
                                     int64_t inner, int64_t k, unsigned long long* bad) {
  AFN_GRID_STRIDE_LOOP(l, outer * inner) {
    const int64_t o = l / inner, i = l % inner;
    for (int64_t r = 0; r < k; ++r) {
      const int64_t src = (o * k + r) * inner + i;
      const int64_t j = indices[src];
      if (j < 0 || j >= C) {
        atomicMin(bad, static_cast<unsigned long long>(src));
        continue;
      }
      gi[(o * C + j) * inner + i] += gv[src];
    }
  }
}

unsigned grid_cap(int64_t blocks) {
  return unsigned(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

int pow2_at_least(int64_t n, int cap) {
  int p = 1;
  while (p < cap && p < n) p *= 2;
  return p;
}

}  // namespace

TopkMethod topk_method(int64_t C, int64_t k) {
  if (k <= kMaxWarpSelectK) return TopkMethod::WarpSelect;
  if (C <= kMaxBitonic) return TopkMethod::BitonicSort;
  return TopkMethod::RadixSort;
}

template <typename T>
void launch_argmax(int64_t* indices, const T* x, int64_t outer, int64_t C, int64_t inner,
                   cudaStream_t stream) {
  if (outer == 0 || inner == 0 || C == 0) return;
  const int bx = pow2_at_least(inner, 32);
  const int by = pow2_at_least(C, kBlock / bx);
  const int64_t tiles = outer * ((inner + bx - 1) / bx);
  argmax_kernel<T><<<grid_cap(tiles), dim3(unsigned(bx), unsigned(by)), 0, stream>>>(
      indices, x, outer, C, inner);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_topk_select(T* values, int64_t* indices, const T* x, int64_t outer, int64_t C,
                        int64_t inner, int64_t k, bool largest, cudaStream_t stream) {
  const int64_t lines = outer * inner;
  if (lines == 0 || k == 0) return;
  if (topk_method(C, k) == TopkMethod::WarpSelect) {
    topk_warp_select_kernel<T><<<blocks_for(lines * 32, kBlock), kBlock, 0, stream>>>(
        values, indices, x, outer, C, inner, int(k), largest);
  } else {
    using K = typename KeyOf<T>::type;
    const int P = pow2_at_least(C, int(kMaxBitonic));
    const size_t smem = size_t(P) * (sizeof(K) + sizeof(int));  // <= 48 KiB for P <= 4096
    topk_bitonic_kernel<T><<<grid_cap(lines), kBlock, smem, stream>>>(values, indices, x, outer, C,
                                                                      inner, int(k), largest, P);
  }
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_topk_radix_sort(T* values, int64_t* indices, const T* x, int64_t outer, int64_t C,
                            int64_t inner, int64_t k, bool largest, void* workspace,
                            size_t& workspace_bytes, cudaStream_t stream) {
  using K = typename KeyOf<T>::type;
  const int64_t lines = outer * inner;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(lines, kMaxSortItems / C));
  const size_t items = size_t(chunk * C);
  const size_t key_bytes = round_up(items * sizeof(K)), idx_bytes = round_up(items * sizeof(int));
  const auto segments = thrust::make_counting_iterator<int>(0);
  const auto begins = thrust::make_transform_iterator(segments, SegmentOffset{C});
  const auto ends = thrust::make_transform_iterator(segments + 1, SegmentOffset{C});
  if (workspace == nullptr) {
    size_t temp_bytes = 0;
    const cudaError_t e = cub::DeviceSegmentedRadixSort::SortPairs(
        nullptr, temp_bytes, static_cast<const K*>(nullptr), static_cast<K*>(nullptr),
        static_cast<const int*>(nullptr), static_cast<int*>(nullptr), int(items), int(chunk),
        begins, ends, 0, int(sizeof(K) * 8), stream);
    if (e != cudaSuccess) cudaGetLastError();  // not sticky; reported below
    workspace_bytes = 2 * key_bytes + 2 * idx_bytes + round_up(temp_bytes);
    AFN_CUDA_LAUNCH_CHECK();
    return;
  }
  auto* base = static_cast<unsigned char*>(workspace);
  K* keys_in = reinterpret_cast<K*>(base);
  K* keys_out = reinterpret_cast<K*>(base + key_bytes);
  int* idx_in = reinterpret_cast<int*>(base + 2 * key_bytes);
  int* idx_out = reinterpret_cast<int*>(base + 2 * key_bytes + idx_bytes);
  void* temp = base + 2 * key_bytes + 2 * idx_bytes;
  size_t temp_bytes = workspace_bytes - (2 * key_bytes + 2 * idx_bytes);
  for (int64_t first = 0; first < lines; first += chunk) {
    const int64_t n = std::min(chunk, lines - first);
    topk_gather_keys_kernel<T><<<blocks_for(n * C), kThreadsPerBlock, 0, stream>>>(
        keys_in, idx_in, x, first, n, C, inner, largest);
    AFN_CUDA_LAUNCH_CHECK();
    const cudaError_t e = cub::DeviceSegmentedRadixSort::SortPairs(
        temp, temp_bytes, keys_in, keys_out, idx_in, idx_out, int(n * C), int(n), begins, ends, 0,
        int(sizeof(K) * 8), stream);
    if (e != cudaSuccess) cudaGetLastError();
    AFN_CUDA_LAUNCH_CHECK();
    topk_scatter_sorted_kernel<T><<<blocks_for(n * k), kThreadsPerBlock, 0, stream>>>(
        values, indices, idx_out, x, first, n, C, inner, k);
    AFN_CUDA_LAUNCH_CHECK();
  }
}

template <typename T>
void launch_topk_backward(T* gi, const T* gv, const int64_t* indices, int64_t outer, int64_t C,
                          int64_t inner, int64_t k, unsigned long long* bad, cudaStream_t stream) {
  const int64_t lines = outer * inner;
  if (lines == 0 || k == 0) return;
  topk_backward_kernel<T><<<blocks_for(lines), kThreadsPerBlock, 0, stream>>>(
      gi, gv, indices, outer, C, inner, k, bad);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                                        \
  template void launch_argmax<T>(int64_t*, const T*, int64_t, int64_t, int64_t, cudaStream_t);    \
  template void launch_topk_select<T>(T*, int64_t*, const T*, int64_t, int64_t, int64_t, int64_t, \
                                      bool, cudaStream_t);                                        \
  template void launch_topk_radix_sort<T>(T*, int64_t*, const T*, int64_t, int64_t, int64_t,      \
                                          int64_t, bool, void*, size_t&, cudaStream_t);           \
  template void launch_topk_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t,  \
                                        int64_t, unsigned long long*, cudaStream_t);
AFN_INSTANTIATE(float)
AFN_INSTANTIATE(double)

}  // namespace afinar::cuda
