// Writing a file all-or-nothing: the writer fills `<destination>.tmp-XXXXXX` and commit() makes
// it durable and puts it in place, so a failure (bad input, disk full, an exception anywhere, a
// crash or kill -9, a power cut after commit) never leaves a partial output file behind:
//   1. fsync(temporary)   its bytes are on the disk before any name points at them
//   2. rename(temporary, destination)   atomic: readers see the old file or the new one
//   3. fsync(folder)      the rename itself survives a power cut
// The destructor removes an uncommitted temporary; one left by a killed process is removed by
// remove_stale_temporaries.
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
  // Steps 1-3 above; throws afinar::Error naming the file when the disk refuses one of them (the
  // temporary is then removed and the destination left as it was).
  void commit();

 private:
  std::string destination_, temp_;
  bool committed_ = false;
};

// fsync of a file or folder by path; throws afinar::Error naming it and the system's reason.
void sync_path(const std::string& path);
// The folder holding `path` ("." for a bare file name).
std::string parent_folder(const std::string& path);
// Removes the `<destination>.tmp-*` files a killed writer left (a kill -9 skips the destructor);
// the number removed. Call it only when no other process writes `destination`.
int remove_stale_temporaries(const std::string& destination);

}  // namespace afinar::io
