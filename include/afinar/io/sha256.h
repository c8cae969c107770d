// SHA-256 (FIPS 180-4), streaming: for torchvision's file-name hash check and the weights file's
// `source_sha256` attribute. Two engines for the compression function, the same digest:
//   portable   plain C++ from the standard, about 300 MB/s on one core;
//   SHA-NI     x86's SHA extensions (sha256rnds2 / sha256msg1 / sha256msg2), used when the CPU
//              has them (Intel since Ice Lake, AMD since Zen), about 1.5-2 GB/s.
// The importer hashes on a second thread while it converts, so the hash costs little wall time.
//
//   Sha256 h;
//   h.update(bytes.data(), bytes.size());       // any number of calls, any chunk sizes
//   std::string hex = h.hex_digest();           // 64 lowercase hex digits; ends the stream
//   std::string file_hex = sha256_file("resnet18-f37072fd.pth");
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "afinar/io/mapped_file.h"

namespace afinar::io {

class Sha256 {
 public:
  // `use_hardware`: the SHA extensions when the CPU has them (tests turn it off to check the
  // portable engine on the same machine).
  explicit Sha256(bool use_hardware = true);
  // True when this CPU has the SHA extensions.
  static bool hardware_available();
  void update(const void* data, size_t size);
  // The 32-byte digest. Pads the message, so call it once, after the last update().
  std::array<uint8_t, 32> digest();
  std::string hex_digest();

 private:
  void compress(const uint8_t* blocks, size_t count);  // `count` 64-byte blocks into state_

  std::array<uint32_t, 8> state_;
  bool hardware_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

std::string sha256_hex(std::string_view bytes);
// Hex digest of a whole file, read through a memory mapping; throws afinar::Error naming the file
// when it cannot be read. When `cancel` becomes true (another thread gave up on the work), it
// stops early and returns "".
std::string sha256_file(const std::string& path, const std::atomic<bool>* cancel = nullptr);
// The same over a mapping that is already open (the importer shares one with its reader).
std::string sha256_file(const MappedFile& file, const std::atomic<bool>* cancel = nullptr);

}  // namespace afinar::io
