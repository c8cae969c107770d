// Training checkpoints: a weights file plus /optimizer, /scheduler and /trainer (see
// include/afinar/train/checkpoint.h for the layout).
#include "afinar/train/checkpoint.h"

#include <unistd.h>

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/hdf5.h"
#include "afinar/io/sha256.h"

namespace afinar::train {

namespace {

constexpr const char* kOptimizer = "/optimizer";
constexpr const char* kScheduler = "/scheduler";
constexpr const char* kTrainer = "/trainer";
constexpr const char* kScaler = "/scaler";
constexpr const char* kEma = "/ema";

// ---- the optimizer's flattened state ----

// Checks that `key` and `t` fit Optimizer::state_dict()'s layout, so that a file (or a hand-made
// Checkpoint) holds nothing load_state_dict would misread and no key that cannot name an HDF5
// dataset:
//   state.<i>.step                int64 0-D
//   state.<i>.<buffer>            float32 / float64, any shape
//   param_groups.<g>.num_params   int64 0-D
//   param_groups.<g>.<option>     float64 0-D
void check_optimizer_entry(const std::string& key, const Tensor& t, const std::string& where) {
  auto fail = [&](const std::string& why) {
    AFN_FAIL(where, ": optimizer state entry '", key, "' ", why,
             " (expected state.<i>.<buffer> or param_groups.<g>.<option>, as "
             "Optimizer::state_dict() writes)");
  };
  const bool is_state = key.rfind("state.", 0) == 0;
  if (!is_state && key.rfind("param_groups.", 0) != 0) fail("has an unknown prefix");
  const size_t first = key.find('.') + 1;
  const size_t dot = key.find('.', first);
  if (dot == std::string::npos) fail("has no field after the index");
  if (dot == first) fail("has no index");
  for (size_t i = first; i < dot; ++i)
    if (!std::isdigit(static_cast<unsigned char>(key[i]))) fail("has a non-numeric index");
  const std::string field = key.substr(dot + 1);
  if (field.empty() || field.find('/') != std::string::npos) fail("has an empty or '/' field");
  const bool counter = field == (is_state ? "step" : "num_params");
  const DType want = counter ? DType::I64 : DType::F64;
  if (counter || !is_state) {
    if (t.dtype() != want || t.dim() != 0)
      fail("must be a 0-D " + std::string(counter ? "int64" : "float64") + " scalar");
  } else if (t.dtype() != DType::F32 && t.dtype() != DType::F64) {
    fail("must be float32 or float64");
  }
}

void write_optimizer(hdf5::File& f, const Checkpoint& ck) {
  AFN_CHECK(!ck.optimizer_name.empty(), "save_checkpoint: the optimizer's name is empty");
  f.create_group(kOptimizer, /*track_order=*/true);
  f.write_attr(kOptimizer, "name", ck.optimizer_name);
  for (const auto& [key, t] : ck.optimizer) {
    check_optimizer_entry(key, t, "save_checkpoint " + f.path());
    f.write_tensor(std::string(kOptimizer) + "/" + key, t);
  }
}

// ---- the GradScaler's state (float16 runs only) ----

// GradScaler::state_dict()'s five 0-D entries, with PyTorch's keys and dtypes.
void check_scaler_entry(const std::string& key, const Tensor& t, const std::string& where) {
  const bool real = key == "scale" || key == "growth_factor" || key == "backoff_factor";
  const bool integer = key == "growth_interval" || key == "_growth_tracker";
  AFN_CHECK(real || integer, where, ": unknown GradScaler state entry '", key,
            "' (expected scale, growth_factor, backoff_factor, growth_interval, _growth_tracker)");
  AFN_CHECK(t.dim() == 0 && t.dtype() == (real ? DType::F64 : DType::I64), where,
            ": GradScaler state entry '", key, "' must be a 0-D ", real ? "float64" : "int64",
            " scalar");
}

void write_scaler(hdf5::File& f, const Checkpoint& ck) {
  if (ck.scaler.empty()) return;
  f.create_group(kScaler, /*track_order=*/true);
  for (const auto& [key, t] : ck.scaler) {
    check_scaler_entry(key, t, "save_checkpoint " + f.path());
    f.write_tensor(std::string(kScaler) + "/" + key, t);
  }
}

// The weight average holds what the model holds: the same keys in the same order, shapes and
// dtypes (ModelEma's module is a model of the same architecture).
void check_ema(const StateDict& ema, const StateDict& model, const std::string& where) {
  AFN_CHECK(ema.keys() == model.keys(), where, ": the weight average (", kEma, ") has ", ema.size(),
            " tensors that are not the model's ", model.size());
  for (const auto& [key, t] : ema) {
    const Tensor& m = model.at(key);
    AFN_CHECK(t.shape() == m.shape() && t.dtype() == m.dtype(), where, ": the weight average's ",
              key, " is ", dtype_name(t.dtype()), " ", t.shape(), " but the model's is ",
              dtype_name(m.dtype()), " ", m.shape());
  }
}

void write_ema(hdf5::File& f, const Checkpoint& ck) {
  if (ck.ema.empty()) return;
  check_ema(ck.ema, ck.model, "save_checkpoint " + f.path());
  f.create_group(kEma, /*track_order=*/true);
  for (const auto& [key, t] : ck.ema) f.write_tensor(std::string(kEma) + "/" + key, t.cpu());
}

// ---- attributes ----

// Unsigned 64-bit values (seeds, Philox offsets) live bit for bit in int64 attributes.
int64_t to_attr(uint64_t v) {
  return std::bit_cast<int64_t>(v);
}
uint64_t from_attr(int64_t v) {
  return std::bit_cast<uint64_t>(v);
}

// Reads the attributes of one checkpoint group, naming the file and group in every error.
class GroupReader {
 public:
  GroupReader(const hdf5::File& f, std::string group) : f_(f), group_(std::move(group)) {}
  bool has(const std::string& name) const { return f_.has_attr(group_, name); }
  int64_t integer(const std::string& name, int64_t min) const {
    require(name);
    const int64_t v = f_.read_attr_int(group_, name);
    AFN_CHECK(v >= min, f_.path(), ": checkpoint attribute ", group_, "@", name, " is ", v,
              "; it must be >= ", min);
    return v;
  }
  uint64_t unsigned_integer(const std::string& name) const {
    require(name);
    return from_attr(f_.read_attr_int(group_, name));
  }
  double real(const std::string& name) const {
    require(name);
    return f_.read_attr_double(group_, name);
  }
  std::string text(const std::string& name) const {
    require(name);
    return f_.read_attr_string(group_, name);
  }

 private:
  void require(const std::string& name) const {
    AFN_CHECK(has(name), f_.path(), ": the checkpoint's ", group_, " group lacks attribute '", name,
              "'");
  }
  const hdf5::File& f_;
  std::string group_;
};

void write_scheduler(hdf5::File& f, const SchedulerState& s) {
  f.create_group(kScheduler);
  f.write_attr(kScheduler, "name", s.name);
  f.write_attr(kScheduler, "last_epoch", s.last_epoch);
  if (s.plateau) {
    f.write_attr(kScheduler, "num_bad_epochs", s.plateau->num_bad_epochs);
    f.write_attr(kScheduler, "cooldown_counter", s.plateau->cooldown_counter);
    f.write_attr(kScheduler, "best", s.plateau->best);
  }
}

SchedulerState read_scheduler(const hdf5::File& f) {
  const GroupReader g(f, kScheduler);
  SchedulerState s;
  s.name = g.text("name");
  s.last_epoch = g.integer("last_epoch", 0);
  if (g.has("num_bad_epochs"))
    s.plateau = SchedulerState::Plateau{g.integer("num_bad_epochs", 0),
                                        g.integer("cooldown_counter", 0), g.real("best")};
  return s;
}

void write_trainer(hdf5::File& f, const TrainerState& t, const std::string& sha256) {
  f.create_group(kTrainer);
  f.write_attr(kTrainer, "checkpoint_version", kCheckpointVersion);
  f.write_attr(kTrainer, "stage", t.stage);
  f.write_attr(kTrainer, "epoch", t.epoch);
  f.write_attr(kTrainer, "step", t.step);
  f.write_attr(kTrainer, "seed", to_attr(t.seed));
  f.write_attr(kTrainer, "best_metric", t.best_metric);
  f.write_attr(kTrainer, "best_epoch", t.best_epoch);
  f.write_attr(kTrainer, "data_position", t.data_position);
  f.write_attr(kTrainer, "rng_seed", to_attr(t.rng_seed));
  f.write_attr(kTrainer, "rng_offset", to_attr(t.rng_offset));
  f.write_attr(kTrainer, "batch_size", t.batch_size);
  f.write_attr(kTrainer, "train_samples", t.train_samples);
  f.write_attr(kTrainer, "grad_accum_steps", t.grad_accum_steps);
  f.write_attr(kTrainer, "eval_metric", t.eval_metric);
  f.write_attr(kTrainer, "sha256", sha256);
}

TrainerState read_trainer(const hdf5::File& f) {
  const GroupReader g(f, kTrainer);
  const int64_t version = g.integer("checkpoint_version", 0);
  AFN_CHECK(version == kCheckpointVersion, f.path(), " is a checkpoint of version ", version,
            "; this afinar reads version ", kCheckpointVersion,
            " (its weights still load: --weights starts a new run from them)");
  TrainerState t;
  t.stage = g.integer("stage", 0);
  t.epoch = g.integer("epoch", 0);
  t.step = g.integer("step", 0);
  t.seed = g.unsigned_integer("seed");
  t.best_metric = g.real("best_metric");
  t.best_epoch = g.integer("best_epoch", -1);
  t.data_position = g.integer("data_position", 0);
  t.rng_seed = g.unsigned_integer("rng_seed");
  t.rng_offset = g.unsigned_integer("rng_offset");
  t.batch_size = g.integer("batch_size", 0);
  t.train_samples = g.integer("train_samples", 0);
  t.grad_accum_steps = g.integer("grad_accum_steps", 1);
  t.eval_metric = g.text("eval_metric");
  return t;
}

// ---- the checksum ----

// Feeds a checkpoint's fields to SHA-256 as an unambiguous byte stream: numbers as their 8 bytes
// (doubles bit for bit, so NaN best_metric hashes too), strings and tensors length-prefixed.
class Digest {
 public:
  void integer(int64_t v) { h_.update(&v, sizeof v); }
  void real(double v) { integer(std::bit_cast<int64_t>(v)); }
  void text(const std::string& s) {
    integer(int64_t(s.size()));
    h_.update(s.data(), s.size());
  }
  void tensors(const StateDict& sd) {
    integer(int64_t(sd.size()));
    for (const auto& [key, t] : sd) {
      const Tensor c = t.cpu().contiguous();
      text(key);
      text(std::string(dtype_name(c.dtype())));
      integer(c.dim());
      for (int64_t d : c.shape()) integer(d);
      integer(int64_t(c.nbytes()));
      if (c.numel() > 0) h_.update(c.raw_data(), c.nbytes());
    }
  }
  std::string hex() { return h_.hex_digest(); }

 private:
  io::Sha256 h_;
};

void digest_meta(Digest& d, const io::WeightsMeta& m) {
  d.text(m.arch);
  d.integer(m.num_classes);
  d.text(m.source);
  d.text(m.source_sha256);
  const io::Preprocessing& p = m.preprocessing;
  d.integer(p.resize);
  d.integer(p.crop);
  d.text(data::crop_mode_name(p.crop_mode));
  // Added after checkpoint version 4 was out: the default leaves the digest as it was.
  if (p.interpolation != data::Interpolation::Bilinear)
    d.text(data::interpolation_name(p.interpolation));
  for (const auto* values : {&p.mean, &p.std}) {
    d.integer(int64_t(values->size()));
    for (double v : *values) d.real(v);
  }
  d.integer(int64_t(m.class_names.size()));
  for (const std::string& name : m.class_names) d.text(name);
  d.text(m.head.kind);
  // hidden and dropout exist in the file for an mlp head only (io/weights.h).
  if (m.head.kind == "mlp") {
    d.integer(m.head.hidden);
    d.real(m.head.dropout[0]);
    d.real(m.head.dropout[1]);
  }
}

// ---- keeping the previous checkpoint ----

// Makes previous_checkpoint_path(path) the file now at `path`, if any. A hard link renamed over
// the old previous one keeps `path` in place throughout; where the file system has no hard links,
// `path` itself is renamed (then, until the new one is renamed in, only the previous one exists,
// and load_checkpoint's error names it).
void keep_previous(const std::string& path) {
  if (!std::filesystem::exists(path)) return;
  const std::string previous = previous_checkpoint_path(path);
  const std::string link = path + ".tmp-prev";  // a stale temporary name (see save_checkpoint)
  std::remove(link.c_str());
  const bool linked = ::link(path.c_str(), link.c_str()) == 0;
  const std::string& from = linked ? link : path;
  AFN_CHECK(std::rename(from.c_str(), previous.c_str()) == 0,
            "cannot keep the previous checkpoint ", path, " as ", previous, ": ",
            std::strerror(errno));
}

// The checkpoint groups `f` lacks, for the error that tells a weights file from a checkpoint.
std::vector<std::string> missing_groups(const hdf5::File& f) {
  std::vector<std::string> missing;
  for (const char* g : {kOptimizer, kScheduler, kTrainer})
    if (!f.exists(g)) missing.push_back(g);
  return missing;
}

}  // namespace

SchedulerState SchedulerState::of(const std::string& name, const optim::LRScheduler& scheduler) {
  return {name, scheduler.last_epoch(), std::nullopt};
}

SchedulerState SchedulerState::of(const std::string& name,
                                  const optim::ReduceLROnPlateau& scheduler) {
  const optim::ReduceLROnPlateau::State s = scheduler.state();
  return {name, s.last_epoch, Plateau{s.num_bad_epochs, s.cooldown_counter, s.best}};
}

void SchedulerState::restore(optim::LRScheduler& scheduler) const {
  AFN_CHECK(!plateau, "checkpoint: the saved schedule '", name,
            "' is a ReduceLROnPlateau; it cannot restore an epoch-based scheduler");
  scheduler.load_last_epoch(last_epoch);
}

void SchedulerState::restore(optim::ReduceLROnPlateau& scheduler) const {
  AFN_CHECK(plateau.has_value(), "checkpoint: the saved schedule '", name,
            "' is not a ReduceLROnPlateau (it has no plateau counters)");
  scheduler.load_state(
      {last_epoch, plateau->num_bad_epochs, plateau->cooldown_counter, plateau->best});
}

std::string checkpoint_sha256(const Checkpoint& ck) {
  Digest d;
  d.tensors(ck.model);
  digest_meta(d, ck.meta);
  d.text(ck.optimizer_name);
  d.tensors(ck.optimizer);
  if (!ck.scaler.empty()) {  // absent from older checkpoints, whose digests stay the same
    d.text(kScaler);
    d.tensors(ck.scaler);
  }
  if (!ck.ema.empty()) {
    d.text(kEma);
    d.tensors(ck.ema);
  }
  const SchedulerState& s = ck.scheduler;
  d.text(s.name);
  d.integer(s.last_epoch);
  d.integer(s.plateau.has_value());
  if (s.plateau) {
    d.integer(s.plateau->num_bad_epochs);
    d.integer(s.plateau->cooldown_counter);
    d.real(s.plateau->best);
  }
  const TrainerState& t = ck.trainer;
  for (int64_t v : {kCheckpointVersion, t.stage, t.epoch, t.step, to_attr(t.seed), t.best_epoch,
                    t.data_position, to_attr(t.rng_seed), to_attr(t.rng_offset), t.batch_size,
                    t.train_samples, t.grad_accum_steps})
    d.integer(v);
  d.real(t.best_metric);
  d.text(t.eval_metric);
  return d.hex();
}

std::string previous_checkpoint_path(const std::string& path) {
  const std::filesystem::path p(path);
  std::filesystem::path previous = p;
  previous.replace_filename(p.stem().string() + ".prev" + p.extension().string());
  return previous.string();
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  const std::string sha256 = checkpoint_sha256(checkpoint);
  // A run killed while saving left its temporaries (path.tmp-*): one writer per run folder.
  io::remove_stale_temporaries(path);
  io::AtomicFile out(path);
  {
    io::WeightsWriter w(out.temp_path());  // itself atomic: out.temp_path() is complete or empty
    for (const auto& [key, t] : checkpoint.model) w.add(key, t);
    hdf5::File& f = w.file();
    write_optimizer(f, checkpoint);
    write_scaler(f, checkpoint);
    write_ema(f, checkpoint);
    write_scheduler(f, checkpoint.scheduler);
    write_trainer(f, checkpoint.trainer, sha256);
    w.commit(checkpoint.meta);
  }
  // Read back before it replaces anything: HDF5 writes its metadata when the file closes and does
  // not report a failure there (a disk that fills up at that moment), so only a file that loads
  // with the right checksum is renamed into place.
  try {
    AFN_CHECK(checkpoint_sha256(load_checkpoint(out.temp_path())) == sha256,
              "its content read back differs from what was written");
  } catch (const Error& e) {
    AFN_FAIL("cannot write a complete checkpoint ", path,
             " (is the disk full?): ", error_summary(e), "; the previous checkpoint is unchanged");
  }
  keep_previous(path);
  out.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  io::Weights weights = io::load_weights(path);  // format, version, root attributes, state_dict
  const hdf5::File f = hdf5::File::open(path);
  const std::vector<std::string> missing = missing_groups(f);
  if (!missing.empty()) {
    std::string list;
    for (const auto& g : missing) list += (list.empty() ? "" : ", ") + g;
    AFN_FAIL(path, " is an afinar weights file but not a checkpoint: it has no ", list,
             " (a checkpoint carries /optimizer, /scheduler and /trainer; use it as --weights "
             "to start a new run from these weights)");
  }
  Checkpoint ck;
  ck.model = std::move(weights.state_dict);
  ck.meta = std::move(weights.meta);
  ck.trainer = read_trainer(f);  // first: it holds the version
  ck.optimizer_name = GroupReader(f, kOptimizer).text("name");
  for (const std::string& key : f.list(kOptimizer, hdf5::LinkOrder::Creation)) {
    Tensor t = f.read_tensor(std::string(kOptimizer) + "/" + key);
    check_optimizer_entry(key, t, path);
    ck.optimizer.insert(key, std::move(t));
  }
  if (f.exists(kScaler))
    for (const std::string& key : f.list(kScaler, hdf5::LinkOrder::Creation)) {
      Tensor t = f.read_tensor(std::string(kScaler) + "/" + key);
      check_scaler_entry(key, t, path);
      ck.scaler.insert(key, std::move(t));
    }
  if (f.exists(kEma)) {
    for (const std::string& key : f.list(kEma, hdf5::LinkOrder::Creation))
      ck.ema.insert(key, f.read_tensor(std::string(kEma) + "/" + key));
    check_ema(ck.ema, ck.model, path);
  }
  ck.scheduler = read_scheduler(f);
  const std::string saved = GroupReader(f, kTrainer).text("sha256");
  const std::string actual = checkpoint_sha256(ck);
  AFN_CHECK(actual == saved, path, " is damaged: the SHA-256 of its content is ", actual,
            " but it was saved with ", saved);
  return ck;
}

ResumePoint load_resume_point(const std::string& path) {
  try {
    return {load_checkpoint(path), path, ""};
  } catch (const Error& e) {
    const std::string previous = previous_checkpoint_path(path);
    if (!std::filesystem::exists(previous)) throw;
    const std::string why = error_summary(e);
    try {
      return {load_checkpoint(previous), previous, why};
    } catch (const Error& e_previous) {
      AFN_FAIL("cannot resume: ", why,
               "; and the previous checkpoint cannot be used either: ", error_summary(e_previous));
    }
  }
}

bool is_checkpoint(const std::string& path) {
  try {
    const hdf5::File f = hdf5::File::open(path);
    return f.has_attr("/", "format") && f.read_attr_string("/", "format") == io::kWeightsFormat &&
           missing_groups(f).empty();
  } catch (const Error&) {
    return false;
  }
}

void restore_optimizer(const Checkpoint& checkpoint, optim::Optimizer& opt) {
  AFN_CHECK(checkpoint.optimizer_name == opt.name(), "checkpoint: the saved optimizer is '",
            checkpoint.optimizer_name, "' but this run's is '", opt.name(),
            "'; its state cannot be resumed by another optimizer");
  opt.load_state_dict(checkpoint.optimizer);
}

}  // namespace afinar::train
