// The trainer's progress display (a ProgressFn for train_epoch / evaluate), as tqdm draws it in
// the seeds. On a terminal, one line redrawn in place with '\r' and ended with a newline when the
// epoch ends:
//   epoch 3/10 train [#####.....] 120/240 50% loss 0.4321 acc 0.8765 12.5 it/s ETA 0:09
// Elsewhere (a log file, a pipe, a string stream) one plain line per report:
//   epoch 3/10 train   120/240   loss 0.4321 acc 0.8765   400.0 img/s    9.6 s 12.5 it/s ETA 0:09
//
// Rates and the ETA come from the epoch so far: it/s = step / seconds (shown as s/it below one
// step a second, as tqdm does), ETA = (steps - step) · seconds / step.
//
//   train_epoch(model, loader, opt, classes, eo, step, nullptr,
//               progress_printer(std::cout, epoch, epochs, "train"));
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "afinar/train/epoch.h"

namespace afinar::train {

enum class ProgressMode {
  Auto,  // Bar when the stream is a terminal (is_terminal), Lines otherwise
  Bar,
  Lines,
};

struct ProgressOptions {
  ProgressMode mode = ProgressMode::Auto;
  int bar_width = 10;  // characters between the brackets
};

// Whether `out` writes to a terminal: std::cout (std::cerr, std::clog) when file descriptor 1 (2)
// is one. Any other stream, a file or a string stream, is not.
bool is_terminal(const std::ostream& out);

// "M:SS", or "H:MM:SS" from an hour on, of the whole seconds in `seconds` (tqdm's
// format_interval, which truncates too); "?" when unknown (negative, NaN or infinite).
std::string format_duration(double seconds);

// Seconds the rest of the epoch takes at its pace so far: (steps - step) · seconds / step. NaN
// before the first step; 0 once step >= steps.
double eta_seconds(const Progress& p);

// "12.3 it/s", or "2.5 s/it" below one step a second; "? it/s" before any time has passed.
std::string format_rate(const Progress& p);

// One report as text, without '\r' or newline. `epoch` is counted from 0 and shown from 1.
// The bar holds floor(width · step / steps) '#' and the percentage is floored too, so neither
// shows complete before the last step.
std::string progress_bar_line(const Progress& p, int64_t epoch, int64_t epochs,
                              const std::string& split, int bar_width);
std::string progress_plain_line(const Progress& p, int64_t epoch, int64_t epochs,
                                const std::string& split);

// A ProgressFn writing to `out` (which must outlive it). A report repeating the step of the one
// before (the end of an epoch whose last step was also a log step) is not written again. In Bar
// mode the line ends at step == steps; an epoch stopped before (max_steps, Ctrl-C) has its line
// ended when the last copy of the function is destroyed.
ProgressFn progress_printer(std::ostream& out, int64_t epoch, int64_t epochs,
                            const std::string& split, const ProgressOptions& options = {});

}  // namespace afinar::train
