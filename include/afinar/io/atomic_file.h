// Writing a file all-or-nothing: the writer fills `<destination>.tmp-XXXXXX` and commit() renames
// it over the destination, so a failure (bad input, disk full, an exception anywhere) never leaves
// a partial output file behind: the destructor removes an uncommitted temporary.
//
//   AtomicFile out("resnet18.h5");
//   write_everything(out.temp_path());   // may throw: nothing appears at resnet18.h5
//   out.commit();
#pragma once

#include <string>

namespace afinar::io {

class AtomicFile {
 public:
  // Creates the temporary file (empty) next to `destination`; throws afinar::Error when the
  // folder does not exist or is not writable.
  explicit AtomicFile(std::string destination);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& destination() const { return destination_; }
  void commit();

 private:
  std::string destination_, temp_;
  bool committed_ = false;
};

}  // namespace afinar::io
