// Inline SVG line charts for the run report (train/svg_plot.h).
#include "afinar/train/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "afinar/train/html.h"

namespace afinar::train {

namespace {

// Room around the plot area for the title and legend (top), tick labels and axis titles.
constexpr double kLeft = 62, kRight = 14, kTop = 30, kBottom = 44;

std::string num(double v, const char* format = "%.1f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Tick labels: %g drops the rounding noise of k·step (0.6000000000000001 -> 0.6).
std::string tick_label(double v) {
  return num(std::abs(v) < 1e-12 ? 0.0 : v, "%g");
}

// The step of about `max_ticks` ticks over `range`: 1, 2, 2.5 or 5 times a power of ten, the
// smallest not below range / (max_ticks - 1). 2.5 is skipped for integer ticks.
double nice_step(double range, int max_ticks, bool integers) {
  const double raw = range / std::max(max_ticks - 1, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  double step = 10 * magnitude;
  for (double candidate : {1.0, 2.0, 2.5, 5.0}) {
    if (integers && candidate == 2.5) continue;
    if (fraction <= candidate * (1 + 1e-9)) {
      step = candidate * magnitude;
      break;
    }
  }
  return integers ? std::max(step, 1.0) : step;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Maps data coordinates to pixels inside the plot area.
struct Frame {
  double x0, x1, y0, y1;  // axis ranges (first and last tick)
  double left, top, width, height;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double py(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }
};

std::string text(double x, double y, const std::string& anchor, const std::string& content,
                 const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra +
         ">" + html_escape(content) + "</text>";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& style) {
  return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
         num(y2) + "\" " + style + "/>";
}

std::string grid_and_ticks(const Frame& f, const std::vector<double>& xt,
                           const std::vector<double>& yt) {
  const std::string grid = "stroke=\"#e4e4e4\" stroke-width=\"1\"";
  std::string out;
  for (double y : yt) {
    out += line(f.left, f.py(y), f.left + f.width, f.py(y), grid);
    out += text(f.left - 6, f.py(y) + 4, "end", tick_label(y));
  }
  for (double x : xt) {
    out += line(f.px(x), f.top, f.px(x), f.top + f.height, grid);
    out += text(f.px(x), f.top + f.height + 16, "middle", tick_label(x));
  }
  const std::string axis = "stroke=\"#333\" stroke-width=\"1\"";
  out += line(f.left, f.top + f.height, f.left + f.width, f.top + f.height, axis);
  out += line(f.left, f.top, f.left, f.top + f.height, axis);
  return out;
}

// Polylines through runs of finite points, and a marker on each point.
std::string draw_series(const Frame& f, const Series& s) {
  std::string out, points;
  auto flush = [&] {
    if (s.line && points.find(' ') != std::string::npos)
      out += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"2\" points=\"" +
             points + "\"/>";
    points.clear();
  };
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
      flush();
      continue;
    }
    const double px = f.px(s.x[i]), py = f.py(s.y[i]);
    if (!points.empty()) points += ' ';
    points += num(px) + "," + num(py);
    out += "<circle cx=\"" + num(px) + "\" cy=\"" + num(py) + "\" r=\"" + (s.line ? "2.5" : "4") +
           "\" fill=\"" + s.color + "\"/>";
  }
  flush();
  return out;
}

// Estimated text widths (no font metrics in a hand-written SVG): about 7 px per character of
// the 11 px labels, 8 px per character of the 13 px bold title.
double legend_entry_width(const Series& s) {
  return 7.0 * double(s.name.size()) + 4 + 16 + 10;  // name, gap, colour swatch, gap
}
double legend_width(const std::vector<Series>& series) {
  double w = 0;
  for (const Series& s : series) w += legend_entry_width(s);
  return w;
}
double title_width(const std::string& title) {
  return 8.0 * double(title.size());
}

// Legend entries right-aligned in the top margin at height y: [gap 10][swatch 12, gap 4][name].
std::string legend(const std::vector<Series>& series, double right, double y) {
  std::string out;
  double x = right - legend_width(series);
  for (const Series& s : series) {
    out += line(x + 10, y, x + 22, y, "stroke=\"" + s.color + "\" stroke-width=\"3\"");
    out += text(x + 26, y + 4, "start", s.name);
    x += legend_entry_width(s);
  }
  return out;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int max_ticks, bool integers) {
  if (!(hi > lo)) {  // one value (or none): a range around it
    const double pad = std::max(lo == 0 ? 1.0 : std::abs(lo) * 0.1, integers ? 1.0 : 0.0);
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, max_ticks, integers);
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last; ++k) ticks.push_back(k * step);
  return ticks;
}

std::string line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  Range xr, yr;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        xr.add(s.x[i]);
        yr.add(s.y[i]);
      }
  std::string out = "<svg class=\"chart\" width=\"" + std::to_string(o.width) + "\" height=\"" +
                    std::to_string(o.height) + "\" viewBox=\"0 0 " + std::to_string(o.width) + " " +
                    std::to_string(o.height) + "\" role=\"img\" aria-label=\"" +
                    html_escape(o.title) + "\" font-family=\"sans-serif\" font-size=\"11\">";
  out += text(kLeft, 16, "start", o.title, " font-size=\"13\" font-weight=\"bold\"");
  // The legend sits beside the title, or on a row of its own below it when both do not fit.
  const bool legend_row =
      kLeft + title_width(o.title) + 12 > o.width - kRight - legend_width(series);
  const double top = kTop + (legend_row ? 16 : 0);
  const double width = o.width - kLeft - kRight, height = o.height - top - kBottom;
  if (xr.empty()) {
    out += text(kLeft + width / 2, top + height / 2, "middle", "no data");
    return out + "</svg>";
  }
  const std::vector<double> xt = nice_ticks(xr.lo, xr.hi, 8, o.integer_x);
  const std::vector<double> yt = nice_ticks(yr.lo, yr.hi, 6);
  const Frame f{xt.front(), xt.back(), yt.front(), yt.back(), kLeft, top, width, height};
  out += grid_and_ticks(f, xt, yt);
  for (const Series& s : series) out += draw_series(f, s);
  out += legend(series, o.width - kRight, legend_row ? 30 : 12);
  out += text(kLeft + width / 2, o.height - 8, "middle", o.x_label);
  out += text(14, top + height / 2, "middle", o.y_label,
              " transform=\"rotate(-90 14 " + num(top + height / 2) + ")\"");
  return out + "</svg>";
}

}  // namespace afinar::train
