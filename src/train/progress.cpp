// The trainer's progress display: line formatting, and the ProgressFn that draws it
// (train/progress.h).
#include "afinar/train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>

namespace afinar::train {

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return isatty(STDOUT_FILENO) == 1;
  if (&out == &std::cerr || &out == &std::clog) return isatty(STDERR_FILENO) == 1;
  return false;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t total = int64_t(seconds);
  const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char text[48];
  if (h > 0)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", long(h), long(m), long(s));
  else
    std::snprintf(text, sizeof text, "%ld:%02ld", long(m), long(s));
  return text;
}

double eta_seconds(const Progress& p) {
  if (p.step >= p.steps) return 0.0;
  if (p.step <= 0) return std::numeric_limits<double>::quiet_NaN();
  return double(p.steps - p.step) * p.seconds / double(p.step);
}

std::string format_rate(const Progress& p) {
  if (p.seconds <= 0 || p.step <= 0) return "? it/s";
  const double rate = double(p.step) / p.seconds;
  char text[48];
  if (rate >= 1)
    std::snprintf(text, sizeof text, "%.1f it/s", rate);
  else
    std::snprintf(text, sizeof text, "%.1f s/it", 1.0 / rate);
  return text;
}

namespace {

// The fraction of the epoch done, in [0, 1]; an epoch of no steps is done.
double fraction(const Progress& p) {
  if (p.steps <= 0) return 1.0;
  return std::clamp(double(p.step) / double(p.steps), 0.0, 1.0);
}

std::string eta_text(const Progress& p) {
  return "ETA " + format_duration(eta_seconds(p));
}

}  // namespace

std::string progress_bar_line(const Progress& p, int64_t epoch, int64_t epochs,
                              const std::string& split, int bar_width) {
  const double f = fraction(p);
  const auto width = size_t(std::max(bar_width, 0));
  const auto filled = size_t(std::floor(f * double(width)));
  const std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
  char text[256];
  std::snprintf(text, sizeof text, "epoch %ld/%ld %s [%s] %ld/%ld %d%% loss %.4f acc %.4f ",
                long(epoch + 1), long(epochs), split.c_str(), bar.c_str(), long(p.step),
                long(p.steps), int(std::floor(f * 100)), p.loss, p.accuracy);
  return text + format_rate(p) + " " + eta_text(p);
}

std::string progress_plain_line(const Progress& p, int64_t epoch, int64_t epochs,
                                const std::string& split) {
  char text[256];
  std::snprintf(text, sizeof text,
                "epoch %ld/%ld %-7s %5ld/%-5ld loss %.4f acc %.4f %7.1f img/s %6.1f s ",
                long(epoch + 1), long(epochs), split.c_str(), long(p.step), long(p.steps), p.loss,
                p.accuracy, p.seconds > 0 ? double(p.samples) / p.seconds : 0.0, p.seconds);
  return text + format_rate(p) + " " + eta_text(p);
}

namespace {

// What one progress_printer has drawn, shared by the copies of its ProgressFn. The destructor
// ends a bar line the epoch left open (it stopped before its last step).
class ProgressDrawer {
 public:
  ProgressDrawer(std::ostream& out, int64_t epoch, int64_t epochs, std::string split,
                 const ProgressOptions& o)
      : out_(out),
        epoch_(epoch),
        epochs_(epochs),
        split_(std::move(split)),
        bar_(o.mode == ProgressMode::Bar || (o.mode == ProgressMode::Auto && is_terminal(out))),
        width_(o.bar_width) {}
  ~ProgressDrawer() {
    try {
      if (open_) out_ << "\n" << std::flush;
    } catch (...) {  // a destructor must not throw; a lost newline is harmless
    }
  }
  ProgressDrawer(const ProgressDrawer&) = delete;
  ProgressDrawer& operator=(const ProgressDrawer&) = delete;

  void draw(const Progress& p) {
    if (p.step == last_step_) return;  // the same report again: nothing new to show
    last_step_ = p.step;
    if (!bar_) {
      out_ << progress_plain_line(p, epoch_, epochs_, split_) << "\n" << std::flush;
      return;
    }
    const std::string line = progress_bar_line(p, epoch_, epochs_, split_, width_);
    // Spaces over what a longer previous line leaves past this one's end.
    const std::string pad(drawn_ > line.size() ? drawn_ - line.size() : 0, ' ');
    out_ << '\r' << line << pad;
    open_ = p.step < p.steps;
    drawn_ = open_ ? line.size() : 0;
    out_ << (open_ ? "" : "\n") << std::flush;
  }

 private:
  std::ostream& out_;
  const int64_t epoch_, epochs_;
  const std::string split_;
  const bool bar_;
  const int width_;
  int64_t last_step_ = -1;
  size_t drawn_ = 0;   // length of the bar line on screen
  bool open_ = false;  // a bar line is drawn and not yet ended
};

}  // namespace

ProgressFn progress_printer(std::ostream& out, int64_t epoch, int64_t epochs,
                            const std::string& split, const ProgressOptions& options) {
  auto drawer = std::make_shared<ProgressDrawer>(out, epoch, epochs, split, options);
  return [drawer](const Progress& p) { drawer->draw(p); };
}

}  // namespace afinar::train
