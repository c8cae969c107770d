// The import pipeline behind `afinar import`: a torch.save file to an afinar weights file.
//   1. one memory mapping of the source, hashed (SHA-256) on a second thread while
//   2. the container is parsed, the architecture detected from the keys and shapes (or the given
//      one checked against them), and each tensor written to HDF5: straight from the mapping when
//      it is contiguous little-endian float32, converted one tensor at a time otherwise;
//   3. torchvision's file-name hash checked (unless verify_hash is false), the attributes
//      written, and the temporary file renamed into place. Any error leaves nothing at `output`.
//
//   ImportReport r = import_torch_weights({.source = "vgg16-397923af.pth", .output = "vgg16.h5"});
//   // r.arch.arch == "vgg16", r.container == "legacy"
#pragma once

#include <string>

#include "afinar/io/weights.h"

namespace afinar::io {

struct ImportOptions {
  std::string source;
  std::string output;
  std::string arch;  // empty: detect from the keys
  bool verify_hash = true;
};

struct ImportReport {
  ArchGuess arch;
  KeyShapes keys;
  std::string container;  // "zip", "legacy" or "tar"
  std::string hash_note;  // what the hash check found, one line
  double seconds = 0;
};

ImportReport import_torch_weights(const ImportOptions& options);

}  // namespace afinar::io
