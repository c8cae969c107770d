// Reading a run directory's metrics.csv, events.jsonl and confusion_<split>.csv
// (train/run_files.h).
#include "afinar/train/run_files.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>

#include "afinar/core/check.h"

namespace afinar::train {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::ifstream open_text(const std::string& path) {
  std::ifstream in(path);
  AFN_CHECK(in.good(), "cannot read ", path);
  return in;
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == ',')
      out.emplace_back();
    else if (c != '\r')
      out.back() += c;
  }
  return out;
}

// A whole field as a number; nullopt when it is not one. "" reads as NaN.
std::optional<double> to_number(std::string_view text) {
  if (text.empty()) return kNaN;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | cp >> 6);
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xE0 | cp >> 12);
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// The JSON string literal at s[i] == '"', unescaped; i ends just past its closing quote.
// (\u escapes outside the Basic Multilingual Plane, which afinar never writes, come out as two
// 3-byte sequences.)
std::optional<std::string> string_at(std::string_view s, size_t& i) {
  std::string out;
  for (++i; i < s.size(); ++i) {
    if (s[i] == '"') {
      ++i;
      return out;
    }
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    switch (s[i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (i + 4 >= s.size() ||
            std::from_chars(s.data() + i + 1, s.data() + i + 5, cp, 16).ptr != s.data() + i + 5)
          return std::nullopt;
        append_utf8(out, cp);
        i += 4;
        break;
      }
      default:
        out += s[i];  // \" \\ \/
    }
  }
  return std::nullopt;
}

// The raw text of a value that is not a string, up to the ',' or '}' that ends it outside any
// nested array, object or string; i ends on that character.
std::optional<std::string> raw_value_at(std::string_view s, size_t& i) {
  const size_t start = i;
  int depth = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      if (!string_at(s, i)) return std::nullopt;
      --i;  // string_at stopped past the quote; the loop steps on
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
    } else if (c == ',' && depth == 0) {
      break;
    }
  }
  if (i >= s.size()) return std::nullopt;
  const std::string_view value = trim(s.substr(start, i - start));
  if (value.empty()) return std::nullopt;
  return std::string(value);
}

}  // namespace

std::vector<MetricRow> read_metrics(const std::string& path) {
  std::ifstream in = open_text(path);
  std::string line;
  AFN_CHECK(std::getline(in, line), path, ": empty file (expected a header line)");
  const std::vector<std::string> header = split_commas(line);
  auto column = [&](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    AFN_FAIL(path, ": no column '", name, "' in the header '", line, "'");
  };
  const size_t epoch = column("epoch"), split = column("split"), loss = column("loss"),
               acc = column("acc"), top5 = column("top5"), precision = column("precision_macro"),
               recall = column("recall_macro"), f1 = column("f1_macro"), lr = column("lr"),
               seconds = column("seconds");
  std::vector<MetricRow> rows;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (trim(line).empty()) continue;
    const std::vector<std::string> f = split_commas(line);
    AFN_CHECK(f.size() == header.size(), path, ":", number, ": ", f.size(),
              " fields, the header has ", header.size());
    auto value = [&](size_t i) {
      const std::optional<double> v = to_number(f[i]);
      AFN_CHECK(v.has_value(), path, ":", number, ": '", f[i], "' in column ", header[i],
                " is not a number");
      return *v;
    };
    MetricRow r;
    r.epoch = int64_t(value(epoch));
    r.split = f[split];
    r.loss = value(loss), r.acc = value(acc), r.top5 = value(top5);
    r.precision = value(precision), r.recall = value(recall), r.f1 = value(f1);
    r.lr = value(lr), r.seconds = value(seconds);
    rows.push_back(r);
  }
  return rows;
}

std::optional<JsonFields> parse_json_object(std::string_view s) {
  JsonFields out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  auto at = [&](char c) { return i < s.size() && s[i] == c; };
  skip_space();
  if (!at('{')) return std::nullopt;
  ++i;
  skip_space();
  if (at('}')) return trim(s.substr(i + 1)).empty() ? std::optional(out) : std::nullopt;
  while (true) {
    skip_space();
    if (!at('"')) return std::nullopt;
    std::optional<std::string> key = string_at(s, i);
    skip_space();
    if (!key || !at(':')) return std::nullopt;
    ++i;
    skip_space();
    std::optional<std::string> value = at('"') ? string_at(s, i) : raw_value_at(s, i);
    if (!value) return std::nullopt;
    out[*key] = std::move(*value);
    skip_space();
    if (at('}')) return trim(s.substr(i + 1)).empty() ? std::optional(out) : std::nullopt;
    if (!at(',')) return std::nullopt;
    ++i;
  }
}

double json_field_number(const JsonFields& fields, const std::string& key) {
  const auto it = fields.find(key);
  if (it == fields.end() || it->second.empty()) return kNaN;
  return to_number(it->second).value_or(kNaN);
}

EventLog read_events(const std::string& path) {
  std::ifstream in = open_text(path);
  EventLog log;
  for (std::string line; std::getline(in, line);) {
    if (trim(line).empty()) continue;
    std::optional<JsonFields> fields = parse_json_object(line);
    if (fields)
      log.events.push_back(std::move(*fields));
    else
      ++log.malformed_lines;
  }
  return log;
}

ConfusionMatrix read_confusion(const std::string& path, int64_t num_classes) {
  std::ifstream in = open_text(path);
  std::string line;
  AFN_CHECK(std::getline(in, line), path, ": empty file (expected a header of class names)");
  ConfusionMatrix m(num_classes);
  int64_t row = 0;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (trim(line).empty()) continue;
    AFN_CHECK(row < num_classes, path, ":", number, ": more than ", num_classes, " class rows");
    const std::vector<std::string> f = split_commas(line);
    AFN_CHECK(int64_t(f.size()) > num_classes, path, ":", number, ": expected a class name and ",
              num_classes, " counts, got ", f.size(), " fields");
    for (int64_t p = 0; p < num_classes; ++p) {
      const std::string& text = f[f.size() - size_t(num_classes) + size_t(p)];
      int64_t count = -1;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
      AFN_CHECK(ec == std::errc() && end == text.data() + text.size() && count >= 0, path, ":",
                number, ": '", text, "' is not a count");
      m.add(std::vector<int64_t>(size_t(count), row), std::vector<int64_t>(size_t(count), p));
    }
    ++row;
  }
  AFN_CHECK(row == num_classes, path, ": ", row, " class rows, expected ", num_classes);
  return m;
}

}  // namespace afinar::train
