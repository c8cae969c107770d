// SHA-256 against the FIPS 180-4 / NIST CAVP example vectors, streamed in every chunking, and
// the file digest against the same vectors written to disk.
#include "afinar/io/sha256.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace afinar {
namespace {

// NIST's examples (csrc.nist.gov SHA256.pdf, SHA2_Additional.pdf).
const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string k448Bits = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const std::string k448Digest = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
const std::string kMillionADigest =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

std::string digest(const std::string& msg, bool use_hardware) {
  io::Sha256 h(use_hardware);
  h.update(msg.data(), msg.size());
  return h.hex_digest();
}

TEST(Sha256, NistVectors) {
  EXPECT_EQ(io::sha256_hex(""), kEmpty);
  EXPECT_EQ(io::sha256_hex("abc"), kAbc);
  EXPECT_EQ(io::sha256_hex(k448Bits), k448Digest);
  EXPECT_EQ(io::sha256_hex(std::string(1000000, 'a')), kMillionADigest);
  // The portable engine on its own (the default uses the SHA extensions when present).
  EXPECT_EQ(digest("", false), kEmpty);
  EXPECT_EQ(digest("abc", false), kAbc);
  EXPECT_EQ(digest(k448Bits, false), k448Digest);
  EXPECT_EQ(digest(std::string(1000000, 'a'), false), kMillionADigest);
}

TEST(Sha256, ShaExtensionsAgreeWithThePortableEngine) {
  if (!io::Sha256::hardware_available()) GTEST_SKIP() << "this CPU has no SHA extensions";
  EXPECT_EQ(digest("abc", true), kAbc);
  EXPECT_EQ(digest(std::string(1000000, 'a'), true), kMillionADigest);
  // Pseudo-random messages of every length around one to three blocks, and a long one.
  std::string msg;
  uint32_t x = 12345;
  for (int i = 0; i < 5000; ++i) msg += char((x = x * 1664525u + 1013904223u) >> 24);
  for (size_t n = 0; n <= 200; ++n)
    EXPECT_EQ(digest(msg.substr(0, n), true), digest(msg.substr(0, n), false)) << n;
  EXPECT_EQ(digest(msg, true), digest(msg, false));
}

TEST(Sha256, AnyChunkingGivesTheSameDigest) {
  // Chunk sizes around the 64-byte block and the 56-byte padding boundary.
  const std::string million(1000000, 'a');
  for (size_t chunk : {1, 3, 55, 56, 63, 64, 65, 1000, 4096, 999999}) {
    io::Sha256 h;
    for (size_t pos = 0; pos < million.size(); pos += chunk)
      h.update(million.data() + pos, std::min(chunk, million.size() - pos));
    EXPECT_EQ(h.hex_digest(), kMillionADigest) << "chunk " << chunk;
  }
  // Messages whose padding spills into a second block (lengths 55..64 bytes).
  for (size_t n = 50; n <= 70; ++n) {
    io::Sha256 split;
    const std::string msg(n, 'x');
    split.update(msg.data(), n / 2);
    split.update(msg.data() + n / 2, n - n / 2);
    EXPECT_EQ(split.hex_digest(), io::sha256_hex(msg)) << n;
  }
}

TEST(Sha256, DigestEndsTheStream) {
  io::Sha256 h;
  h.update("abc", 3);
  EXPECT_EQ(h.hex_digest(), kAbc);
  EXPECT_THROW(h.update("d", 1), Error);
  EXPECT_THROW(h.digest(), Error);
}

TEST(Sha256, FileDigest) {
  testing::TempDir dir;
  std::ofstream(dir / "abc.bin") << "abc";
  std::ofstream(dir / "a.bin") << std::string(1000000, 'a');
  EXPECT_EQ(io::sha256_file(dir / "abc.bin"), kAbc);
  EXPECT_EQ(io::sha256_file(dir / "a.bin"), kMillionADigest);
  EXPECT_THROW(io::sha256_file(dir / "missing.bin"), Error);
  std::atomic<bool> cancel{true};
  EXPECT_EQ(io::sha256_file(dir / "a.bin", &cancel), "");
}

}  // namespace
}  // namespace afinar
