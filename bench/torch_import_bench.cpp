// The .pth importer's costs on one machine:
//   Sha256/portable, Sha256/sha_ni   SHA-256 throughput over 64 MiB (the source_sha256 attribute
//                                    and torchvision's hash check read the whole file)
//   TorchImport/vgg16                io::import_torch_weights on a vgg16-shaped torch.save zip
//                                    (528 MB, random values, written once by save_torch_file to
//                                    $TMPDIR/afinar-import-bench/vgg16.pth): parse, hash on a
//                                    second thread, HDF5 write, rename
//   build/bench/afinar_bench --benchmark_filter='Sha256|TorchImport'
// The acceptance figure (a legacy-format vgg16 saved by torch, `afinar import` under `time`) and
// the torch.load + h5py reference are in the issue note; this bench tracks regressions.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "afinar/io/import.h"
#include "afinar/io/sha256.h"
#include "afinar/io/torch_file.h"

namespace afinar::io {
namespace {

void Sha256Throughput(benchmark::State& state) {
  const bool hardware = state.range(0) != 0;
  if (hardware && !Sha256::hardware_available()) {
    state.SkipWithError("this CPU has no SHA extensions");
    return;
  }
  const std::string data(size_t(64) << 20, 'x');
  for (auto _ : state) {
    Sha256 h(hardware);
    h.update(data.data(), data.size());
    benchmark::DoNotOptimize(h.digest());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(data.size()));
}
BENCHMARK(Sha256Throughput)->ArgName("sha_ni")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// A vgg16-shaped state_dict file, made on first use.
const std::string& vgg16_file() {
  static const std::string path = [] {
    const auto dir = std::filesystem::temp_directory_path() / "afinar-import-bench";
    std::filesystem::create_directories(dir);
    const std::string p = (dir / "vgg16.pth").string();
    if (!std::filesystem::exists(p)) {
      Generator gen(0);
      StateDict sd;
      for (const auto& [key, shape] : torchvision_keys("vgg16", 1000))
        sd.insert(key, randn(shape, DType::F32, gen));
      save_torch_file(p, sd);
    }
    return p;
  }();
  return path;
}

void TorchImport(benchmark::State& state) {
  const std::string src = vgg16_file();
  const std::string dst = src + ".h5";
  for (auto _ : state) benchmark::DoNotOptimize(import_torch_weights({src, dst, "", true}));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(std::filesystem::file_size(src)));
  std::filesystem::remove(dst);
}
BENCHMARK(TorchImport)->Name("TorchImport/vgg16")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace afinar::io
