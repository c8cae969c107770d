// Reading and writing torch.save files without Python or libtorch (FORMATS.md). The container is
// detected from the content, never the name:
//   zip      "PK\3\4": <prefix>/data.pkl + <prefix>/data/<key> storages (torch >= 1.6);
//   legacy   pickled magic number 0x1950a86a20f9469cfc6c, protocol 1001, sys_info, the object,
//            the storage keys, then each storage as int64 count + raw bytes (torch 0.1.11 - 1.5);
//   tar      PAX tar with members sys_info, pickle, tensors, storages (torch < 0.1.11).
// Tensors may be encoded as _rebuild_tensor_v2(...), _rebuild_tensor(...), torch 0.1.10's
// torch.FloatTensor + NEWOBJ/BUILD, wrapped in _rebuild_parameter or, in tar files, as
// persistent ids of the tensors table. Storages of every torch dtype are read; views (storage
// offset, strides, legacy view_metadata) are materialised; every range is checked against the
// storage it reads. A state_dict nested under "state_dict" or "model" (a training checkpoint)
// is accepted. Only the whitelisted globals of torch_pickle.h resolve; nothing is executed.
// Hostile files (tests/data/fixtures/hostile/, tools/fixtures/hostile_pth.py) are refused naming
// the fault: besides the pickle's limits (PickleLimits), zip entry names that are absolute or hold
// '..', '\' or NUL, duplicate entry names, entries whose data overlap, duplicate state_dict keys,
// storage keys other than [A-Za-z0-9_]{1,64}, and tensors that together would materialise more
// elements than the file has bytes plus 2^24 (stride-0 views may repeat elements, not without
// bound).
//
//   StateDict sd = load_torch_file("resnet18-f37072fd.pth");   // float32; int64 for
//                                                             // num_batches_tracked
//   save_torch_file("out.pth", sd);                           // zip format, torch.load-able
//   TorchFile f = TorchFile::open(path);                      // streaming: tensors in place
//   for (const TorchTensorRecord& r : f.tensors()) ... r.in_place() or r.materialize() ...
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/io/mapped_file.h"
#include "afinar/io/torch_pickle.h"
#include "afinar/nn/state_dict.h"

namespace afinar::io {

// One tensor as the file stores it, before conversion: a strided view of a storage that lies in
// the file's memory mapping. Already validated: every element it addresses is inside the storage.
struct TorchTensorRecord {
  std::string key;
  TorchScalar scalar = TorchScalar::Float;  // the storage's element type
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  ByteSpan storage;    // the storage's bytes (numel * element size)
  bool big_endian = false;

  int64_t numel() const { return numel_of(shape); }
  // afinar's dtype for it: int64 for num_batches_tracked, float32 for everything else.
  DType target_dtype() const;
  // The bytes in afinar's layout (target dtype, row-major, little-endian) when the file already
  // holds them so: a float32 contiguous tensor. Lets the importer write straight from the mapping.
  std::optional<ByteSpan> in_place() const;
  // A new contiguous CPU tensor of target_dtype() with the values converted.
  Tensor materialize() const;
};

class TorchFile {
 public:
  static TorchFile open(const std::string& path);
  static TorchFile open(std::shared_ptr<const MappedFile> file);  // an open mapping

  const std::string& path() const { return file_->path(); }
  const char* container() const { return container_; }  // "zip", "legacy" or "tar"
  const std::vector<TorchTensorRecord>& tensors() const { return tensors_; }

 private:
  std::shared_ptr<const MappedFile> file_;  // the records point into it
  const char* container_ = "";
  std::vector<TorchTensorRecord> tensors_;
};

// Every tensor of a torch.save file, converted (float32; int64 for num_batches_tracked), in the
// file's order.
StateDict load_torch_file(const std::string& path);

// Writes `sd` as torch.save(sd, path) does in the zip format (an OrderedDict of
// _rebuild_tensor_v2, one storage per tensor), through `path.tmp-XXXXXX` renamed at the end.
// torch.load(path, weights_only=True) reads it.
void save_torch_file(const std::string& path, const StateDict& sd);

// torchvision's file-name hash check (torch.hub.check_hash): the `-([a-f0-9]+)\.` part of the
// file's name must be a prefix of its SHA-256. `sha256` may be passed when already computed.
struct HashCheck {
  bool has_hash = false;  // false: the name carries no hash, nothing was checked
  std::string name_hash;  // the prefix from the name
  std::string sha256;     // of the file's content
  std::string summary;    // one line for the user
};
// The name's hash prefix, if any.
std::optional<std::string> torchvision_hash_of_name(const std::string& path);
// Throws afinar::Error when the name has a hash that the content does not match.
HashCheck verify_torchvision_hash(const std::string& path, const std::string& sha256 = "");

}  // namespace afinar::io
