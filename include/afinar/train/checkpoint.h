// Training checkpoints: everything a run needs to continue exactly where it stopped. A checkpoint
// is an afinar weights file (io/weights.h: root attributes + /state_dict) with three more groups,
// so `afinar predict` and `afinar export` (io::load_weights) read it as plain weights:
//   /optimizer  the optimizer's StateDict (optim/optimizer.h: "state.<i>.<buffer>" tensors,
//               "state.<i>.step" int64 0-D, "param_groups.<g>.<option>" float64 0-D,
//               "param_groups.<g>.num_params" int64 0-D), in its order; attribute `name`
//               ("sgd", "adam", "adamw", "rmsprop")
//   /scheduler  attributes `name` and `last_epoch`; ReduceLROnPlateau adds `num_bad_epochs`,
//               `cooldown_counter` and `best`
//   /scaler     float16 runs only: the GradScaler's state_dict (optim/grad_scaler.h: "scale",
//               "growth_factor", "backoff_factor" float64 0-D, "growth_interval",
//               "_growth_tracker" int64 0-D)
//   /ema        runs with a weight average only (train/model_ema.h): its state_dict, the same
//               keys, shapes and dtypes as /state_dict's
//   /trainer    attributes `checkpoint_version`, `stage`, `epoch` (the next one to run), `step`
//               (optimizer steps so far), `seed`, `best_metric`, `best_epoch`, `data_position`
//               (batches of `epoch` already trained), `rng_seed` and `rng_offset` (the default
//               Generator), `batch_size`, `train_samples`, `grad_accum_steps` and
//               `eval_metric` (what `seed`, `data_position` and `best_metric` mean: a resume
//               checks them against its run),
//               `sha256` (checkpoint_sha256 of everything above). Unsigned 64-bit
//               values are stored bit for bit in int64 attributes.
// Tensors come back bit-exact and integers exact.
//
// Crash safety: save_checkpoint writes a temporary, reads it back and checks its SHA-256, fsyncs
// it, keeps the checkpoint it replaces as `<stem>.prev<ext>` (checkpoint.prev.h5, a hard link)
// and renames the new one into place (io/atomic_file.h), so at every moment — kill -9, full disk,
// power cut — `path` is a complete checkpoint (or absent before the first save) and the previous
// one is kept. load_checkpoint recomputes the SHA-256: a file damaged later (bit rot, a copy cut
// short) is an error, and load_resume_point (what --resume reads) then takes the previous one.
//
//   Checkpoint ck{model->state_dict(), meta, opt.state_dict(), opt.name(),
//                 SchedulerState::of("cosine", sched), trainer_state};
//   save_checkpoint("runs/x/checkpoint.h5", ck);
//   Checkpoint back = load_checkpoint("runs/x/checkpoint.h5");
//   model->load_state_dict(back.model);
//   restore_optimizer(back, opt);                  // checks the optimizer's name
//   back.scheduler.restore(sched);                 // after restore_optimizer
//   default_generator().set_state(back.trainer.rng_seed, back.trainer.rng_offset);
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "afinar/io/weights.h"
#include "afinar/nn/state_dict.h"
#include "afinar/optim/optimizer.h"
#include "afinar/optim/scheduler.h"

namespace afinar::train {

// Bumped when the checkpoint groups change incompatibly; load_checkpoint refuses other versions.
// 2: /trainer@sha256. 3: /trainer@batch_size, train_samples, eval_metric. 4: /ema,
// /trainer@grad_accum_steps.
inline constexpr int64_t kCheckpointVersion = 4;

// A learning-rate schedule's position. Every LRScheduler's state is its epoch (scheduler.h);
// ReduceLROnPlateau also counts bad epochs and keeps the best metric.
struct SchedulerState {
  std::string name = "none";  // the schedule's name in the run's configuration
  int64_t last_epoch = 0;
  struct Plateau {
    int64_t num_bad_epochs = 0, cooldown_counter = 0;
    double best = 0;
  };
  std::optional<Plateau> plateau;  // ReduceLROnPlateau only

  static SchedulerState of(const std::string& name, const optim::LRScheduler& scheduler);
  static SchedulerState of(const std::string& name, const optim::ReduceLROnPlateau& scheduler);
  // Sets the scheduler's epoch (and so its group lrs): call after restore_optimizer, whose
  // param_groups carry the lrs of the save.
  void restore(optim::LRScheduler& scheduler) const;
  void restore(optim::ReduceLROnPlateau& scheduler) const;  // needs `plateau`
};

struct TrainerState {
  int64_t stage = 0;
  int64_t epoch = 0;                                              // the next epoch to run
  int64_t step = 0;                                               // global optimizer steps so far
  uint64_t seed = 0;                                              // the run's seed
  double best_metric = std::numeric_limits<double>::quiet_NaN();  // NaN: none yet
  int64_t best_epoch = -1;
  int64_t data_position = 0;              // the first batch of `epoch` not trained (its number)
  uint64_t rng_seed = 0, rng_offset = 0;  // default_generator()'s state (core/rng.h)
  // The run's settings that give the numbers above their meaning: data_position counts batches
  // of batch_size over a training split of train_samples images (drawn with seed) and stops at a
  // multiple of grad_accum_steps, best_metric is a value of eval_metric (train/eval_metric.h).
  int64_t batch_size = 0, train_samples = 0, grad_accum_steps = 1;
  std::string eval_metric = "top1";
};

struct Checkpoint {
  StateDict model;
  io::WeightsMeta meta;
  StateDict optimizer;         // optim::Optimizer::state_dict()
  std::string optimizer_name;  // optim::Optimizer::name()
  SchedulerState scheduler;
  TrainerState trainer;
  StateDict scaler;  // optim::GradScaler::state_dict(); empty without one
  StateDict ema;     // train::ModelEma's module().state_dict(); empty without one
};

// Writes `path` all-or-nothing and durably, keeping the checkpoint it replaces as
// previous_checkpoint_path(path) (see above). The model's tensors follow the weights file's rules
// (float32, int64 for num_batches_tracked); the optimizer's must be float32, float64 or int64; the
// average's, when there is one, must match the model's in keys, shapes and dtypes.
// A full disk or an unwritable folder is an error naming the file; `path` is then untouched.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Reads a checkpoint and verifies its SHA-256; a weights file without the checkpoint groups,
// another version, a missing or malformed entry or a checksum mismatch is an error naming the file
// and what is wrong. Tensors come back on the CPU.
Checkpoint load_checkpoint(const std::string& path);
// What `--resume path` reads: the checkpoint at `path` or, when that one cannot be used (damaged
// later by bit rot or a copy cut short, or missing on a file system without hard links, caught
// between keep_previous's two renames), the previous one save_checkpoint kept beside it. Errors
// when neither loads, naming both files and why.
struct ResumePoint {
  Checkpoint checkpoint;
  std::string path;      // the file read: `path` or previous_checkpoint_path(path)
  std::string unusable;  // why `path` was passed over (one line); empty when it was read
};
ResumePoint load_resume_point(const std::string& path);
// SHA-256 (hex) over everything a checkpoint holds: every tensor's key, dtype, shape and bytes,
// the optimizer's name, the scheduler's and trainer's fields and the weights meta, each
// length-prefixed so that no two different checkpoints give the same byte stream.
std::string checkpoint_sha256(const Checkpoint& checkpoint);
// Where save_checkpoint keeps the checkpoint it replaced: runs/x/checkpoint.h5 ->
// runs/x/checkpoint.prev.h5.
std::string previous_checkpoint_path(const std::string& path);
// Whether `path` is an afinar weights file carrying the checkpoint groups (false for anything
// else, including an unreadable file).
bool is_checkpoint(const std::string& path);

// opt.load_state_dict(checkpoint.optimizer) after checking that the checkpoint's optimizer is
// `opt`'s kind ("adamw" state does not resume an SGD).
void restore_optimizer(const Checkpoint& checkpoint, optim::Optimizer& opt);

}  // namespace afinar::train
