// Checks on the HTML pages afinar writes (the run report, the demo's page): that the markup nests.
#pragma once

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace afinar::testing {

// The first problem with the nesting of elements: every element opened is closed, in order
// (HTML's void elements and "<x/>" excepted); "" when there is none. The contents of <style> and
// <script> are skipped; attribute values must not hold a raw '>' (the report escapes them).
inline std::string tag_problem(const std::string& html) {
  static const std::set<std::string> kVoid = {"area",  "base", "br",   "col",    "hr", "img",
                                              "input", "link", "meta", "source", "wbr"};
  std::vector<std::string> open;
  for (size_t i = html.find('<'); i != std::string::npos; i = html.find('<', i)) {
    if (html.compare(i, 2, "<!") == 0) {  // doctype or comment
      i = html.find('>', i);
      continue;
    }
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = html.substr(i + 1, end - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    std::string name;
    for (size_t k = closing; k < tag.size() && std::isalnum(static_cast<unsigned char>(tag[k]));
         ++k)
      name += char(std::tolower(static_cast<unsigned char>(tag[k])));
    if (name.empty()) return "not a tag: <" + tag + ">";
    i = end + 1;
    if (closing) {
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
      open.pop_back();
    } else if (tag.back() != '/' && !kVoid.count(name)) {
      open.push_back(name);
      if (name == "style" || name == "script") i = html.find("</" + name, i);
    }
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

}  // namespace afinar::testing
