// SHA-256 as FIPS 180-4 specifies it (section 6.2): 64-byte blocks, a 64-round compression with
// the constants K (first 32 bits of the fractional parts of the cube roots of the first 64
// primes), padding with 0x80, zeros and the message length in bits as a big-endian 64-bit number.
// The compression runs either as plain C++ or on x86's SHA extensions (Intel's "SHA extensions"
// white paper, 2013): the state is held as ABEF / CDGH halves, each sha256rnds2 does two rounds,
// and sha256msg1 / sha256msg2 compute the message schedule four words at a time.
#include "afinar/io/sha256.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>

#include "afinar/core/check.h"

namespace afinar::io {

namespace {

constexpr std::array<uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// Initial hash value H(0): first 32 bits of the fractional parts of the square roots of the first
// 8 primes.
constexpr std::array<uint32_t, 8> kInitial = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

constexpr uint32_t rotr(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// One 64-byte block, FIPS 180-4 6.2.2.
void compress_portable(std::array<uint32_t, 8>& state, const uint8_t* block) {
  // Message schedule W_t (6.2.2 step 1): 16 words from the block, 48 derived with sigma0/sigma1.
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) w[t] = load_be32(block + 4 * t);
  for (int t = 16; t < 64; ++t) {
    const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int t = 0; t < 64; ++t) {
    const uint32_t big_s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const uint32_t ch = (e & f) ^ (~e & g);
    const uint32_t t1 = h + big_s1 + ch + kRound[size_t(t)] + w[t];
    const uint32_t big_s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    const uint32_t t2 = big_s0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

#if defined(__x86_64__)
bool cpu_has_sha() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = b & (1u << 29);
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return sha && (c & (1u << 19));  // SSE4.1 (and with it SSSE3)
}

// `count` blocks on the SHA extensions. Each group g of four rounds adds K[4g..4g+3] to message
// words W[4g..4g+3] (held in msg[g % 4]) and runs two sha256rnds2; the schedule then replaces
// msg[g % 4] by W[4g+16..4g+19] = msg2(msg1(W[4g..], W[4g+4..]) + W[4g+9..4g+12], W[4g+12..]).
__attribute__((target("sha,sse4.1"))) void compress_sha_ni(std::array<uint32_t, 8>& state,
                                                           const uint8_t* data, size_t count) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  // state: a b c d | e f g h  ->  ABEF (a in the high lane) and CDGH, as sha256rnds2 wants.
  __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[0])),
                                  0xb1);  // CDAB
  __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[4])),
                                   0x1b);  // EFGH
  __m128i abef = _mm_alignr_epi8(tmp, cdgh, 8);
  cdgh = _mm_blend_epi16(cdgh, tmp, 0xf0);
  for (; count > 0; --count, data += 64) {
    const __m128i abef_in = abef, cdgh_in = cdgh;
    __m128i msg[4];
    for (int i = 0; i < 4; ++i)
      msg[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)),
                                byte_swap);
    for (int g = 0; g < 16; ++g) {
      __m128i wk = _mm_add_epi32(
          msg[g & 3], _mm_loadu_si128(reinterpret_cast<const __m128i*>(&kRound[size_t(4 * g)])));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      wk = _mm_shuffle_epi32(wk, 0x0e);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
      if (g < 12) {
        const __m128i w = _mm_add_epi32(_mm_sha256msg1_epu32(msg[g & 3], msg[(g + 1) & 3]),
                                        _mm_alignr_epi8(msg[(g + 3) & 3], msg[(g + 2) & 3], 4));
        msg[g & 3] = _mm_sha256msg2_epu32(w, msg[(g + 3) & 3]);
      }
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  tmp = _mm_shuffle_epi32(abef, 0x1b);      // FEBA
  cdgh = _mm_shuffle_epi32(cdgh, 0xb1);     // DCHG
  abef = _mm_blend_epi16(tmp, cdgh, 0xf0);  // DCBA
  cdgh = _mm_alignr_epi8(cdgh, tmp, 8);     // HGFE
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[0]), abef);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[4]), cdgh);
}
#else
bool cpu_has_sha() {
  return false;
}
void compress_sha_ni(std::array<uint32_t, 8>&, const uint8_t*, size_t) {}
#endif

}  // namespace

Sha256::Sha256(bool use_hardware)
    : state_(kInitial), hardware_(use_hardware && hardware_available()) {}

bool Sha256::hardware_available() {
  static const bool available = cpu_has_sha();
  return available;
}

void Sha256::compress(const uint8_t* blocks, size_t count) {
  if (hardware_) return compress_sha_ni(state_, blocks, count);
  for (size_t i = 0; i < count; ++i) compress_portable(state_, blocks + 64 * i);
}

void Sha256::update(const void* data, size_t size) {
  AFN_CHECK(!finished_, "Sha256: update() after digest()");
  const auto* p = static_cast<const uint8_t*>(data);
  total_bytes_ += size;
  if (buffered_ > 0) {  // complete the pending block first
    const size_t take = std::min(size, buffer_.size() - buffered_);
    std::memcpy(buffer_.data() + buffered_, p, take);
    buffered_ += take;
    p += take;
    size -= take;
    if (buffered_ < buffer_.size()) return;
    compress(buffer_.data(), 1);
    buffered_ = 0;
  }
  compress(p, size / 64);
  p += size / 64 * 64;
  size %= 64;
  std::memcpy(buffer_.data(), p, size);
  buffered_ = size;
}

std::array<uint8_t, 32> Sha256::digest() {
  AFN_CHECK(!finished_, "Sha256: digest() called twice");
  // Padding (5.1.1): 0x80, zeros up to 56 mod 64, then the length in bits, big-endian.
  const uint64_t bits = total_bytes_ * 8;
  uint8_t pad[72] = {0x80};
  const size_t pad_len = (buffered_ < 56 ? 56 : 120) - buffered_;
  for (int i = 0; i < 8; ++i) pad[pad_len + size_t(i)] = uint8_t(bits >> (56 - 8 * i));
  update(pad, pad_len + 8);
  finished_ = true;
  std::array<uint8_t, 32> out;
  for (size_t i = 0; i < 8; ++i)
    for (size_t j = 0; j < 4; ++j) out[4 * i + j] = uint8_t(state_[i] >> (24 - 8 * j));
  return out;
}

std::string Sha256::hex_digest() {
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (uint8_t byte : digest()) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 15];
  }
  return hex;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex_digest();
}

std::string sha256_file(const std::string& path, const std::atomic<bool>* cancel) {
  return sha256_file(*MappedFile::open(path), cancel);
}

std::string sha256_file(const MappedFile& file, const std::atomic<bool>* cancel) {
  const ByteSpan all = file.bytes();
  constexpr size_t kChunk = size_t(8) << 20;  // check `cancel` every 8 MiB (~30 ms)
  Sha256 h;
  for (size_t pos = 0; pos < all.size; pos += kChunk) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return "";
    h.update(all.data + pos, std::min(kChunk, all.size - pos));
  }
  return h.hex_digest();
}

}  // namespace afinar::io
