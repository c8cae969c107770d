// The import pipeline (see include/afinar/io/import.h).
#include "afinar/io/import.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <thread>

#include "afinar/core/check.h"
#include "afinar/io/sha256.h"
#include "afinar/io/torch_file.h"

namespace afinar::io {

namespace {

// A file's SHA-256 computed on its own thread; destroying it early cancels the work.
class BackgroundSha256 {
 public:
  explicit BackgroundSha256(std::shared_ptr<const MappedFile> file)
      : thread_([this, file] {
          try {
            digest_ = sha256_file(*file, &cancel_);
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  ~BackgroundSha256() {
    cancel_ = true;
    if (thread_.joinable()) thread_.join();
  }
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;

  std::string get() {
    thread_.join();
    if (error_) std::rethrow_exception(error_);
    return digest_;
  }

 private:
  std::atomic<bool> cancel_{false};
  std::string digest_;
  std::exception_ptr error_;
  std::thread thread_;  // last: it starts once the members it uses exist
};

// The detected architecture, or the given one after checking the keys against it.
ArchGuess architecture(const KeyShapes& keys, const ImportOptions& o) {
  if (o.arch.empty()) return detect_arch(keys);
  try {
    check_arch(keys, o.arch, head_classes(keys, o.arch));
  } catch (const Error& e) {
    std::string hint;
    try {
      hint = "; the keys look like " + detect_arch(keys).arch;
    } catch (const Error&) {
    }
    AFN_FAIL("--arch ", o.arch, " does not match ", o.source, ": ", e.what(), hint);
  }
  return {o.arch, head_classes(keys, o.arch)};
}

}  // namespace

ImportReport import_torch_weights(const ImportOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const auto mapping = MappedFile::open(o.source);
  BackgroundSha256 sha(mapping);
  const TorchFile file = TorchFile::open(mapping);
  ImportReport report;
  report.container = file.container();
  for (const TorchTensorRecord& r : file.tensors()) report.keys.emplace_back(r.key, r.shape);
  report.arch = architecture(report.keys, o);

  WeightsWriter out(o.output);
  for (const TorchTensorRecord& r : file.tensors()) {
    if (const auto bytes = r.in_place()) {
      out.add(r.key, r.target_dtype(), r.shape, bytes->data);
    } else {
      out.add(r.key, r.materialize());
    }
  }
  WeightsMeta meta;
  meta.arch = report.arch.arch;
  meta.num_classes = report.arch.num_classes;
  meta.source = std::filesystem::path(o.source).filename().string();
  meta.source_sha256 = sha.get();
  meta.preprocessing = torchvision_preprocessing(o.source);
  report.hash_note = o.verify_hash ? verify_torchvision_hash(o.source, meta.source_sha256).summary
                                   : "hash not checked (--no-verify)";
  out.commit(meta);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace afinar::io
