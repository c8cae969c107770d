// The restricted pickle machine and the protocol-2 writer (see include/afinar/io/torch_pickle.h).
// Opcode semantics follow CPython's Lib/pickle.py (_Unpickler.load_*) and pickletools' table.
#include "afinar/io/torch_pickle.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "afinar/core/check.h"

namespace afinar::io {

// ---- torch scalar types -----------------------------------------------------------------------

namespace {
struct ScalarInfo {
  TorchScalar type;
  const char* prefix;  // "Float" in FloatStorage / FloatTensor
  size_t size;
};
constexpr std::array<ScalarInfo, 10> kScalars = {{{TorchScalar::Float, "Float", 4},
                                                  {TorchScalar::Double, "Double", 8},
                                                  {TorchScalar::Half, "Half", 2},
                                                  {TorchScalar::BFloat16, "BFloat16", 2},
                                                  {TorchScalar::Long, "Long", 8},
                                                  {TorchScalar::Int, "Int", 4},
                                                  {TorchScalar::Short, "Short", 2},
                                                  {TorchScalar::Char, "Char", 1},
                                                  {TorchScalar::Byte, "Byte", 1},
                                                  {TorchScalar::Bool, "Bool", 1}}};

const ScalarInfo& info(TorchScalar t) {
  return kScalars[size_t(t)];
}

// Functions and classes a state_dict's pickle may name; storages and legacy tensor classes are
// matched by torch_scalar_of_global.
constexpr std::array<std::string_view, 4> kAllowedFunctions = {
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_parameter"};

bool is_allowed_global(std::string_view name) {
  for (std::string_view f : kAllowedFunctions)
    if (name == f) return true;
  return torch_scalar_of_global(name).has_value();
}
}  // namespace

size_t element_size(TorchScalar t) {
  return info(t).size;
}

const char* torch_storage_name(TorchScalar t) {
  static const std::array<std::string, 10> names = [] {
    std::array<std::string, 10> n;
    for (size_t i = 0; i < kScalars.size(); ++i) n[i] = std::string(kScalars[i].prefix) + "Storage";
    return n;
  }();
  return names[size_t(t)].c_str();
}

std::optional<TorchScalar> torch_scalar_of_global(std::string_view name) {
  constexpr std::string_view kTorch = "torch.";
  if (name.substr(0, kTorch.size()) != kTorch) return std::nullopt;
  name.remove_prefix(kTorch.size());
  for (const ScalarInfo& s : kScalars) {
    const std::string_view prefix = s.prefix;
    if (name.substr(0, prefix.size()) != prefix) continue;
    const std::string_view rest = name.substr(prefix.size());
    if (rest == "Storage" || rest == "Tensor") return s.type;
  }
  return std::nullopt;
}

std::string Pickle::allowed_globals() {
  std::string s;
  for (std::string_view f : kAllowedFunctions) s += std::string(f) + ", ";
  return s +
         "torch.<Type>Storage and torch.<Type>Tensor for Type in Float, Double, Half, "
         "BFloat16, Long, Int, Short, Char, Byte, Bool";
}

// ---- values -----------------------------------------------------------------------------------

namespace {
const char* kind_name(PickleValue::Kind k) {
  using K = PickleValue::Kind;
  switch (k) {
    case K::None:
      return "None";
    case K::Bool:
      return "bool";
    case K::Int:
      return "int";
    case K::BigInt:
      return "big int";
    case K::Float:
      return "float";
    case K::String:
      return "string";
    case K::Bytes:
      return "bytes";
    case K::Tuple:
      return "tuple";
    case K::List:
      return "list";
    case K::Dict:
      return "dict";
    case K::Global:
      return "global";
    case K::Call:
      return "call";
    case K::PersistentId:
      return "persistent id";
  }
  return "?";
}
}  // namespace

std::string PickleValue::describe() const {
  switch (kind) {
    case Kind::Int:
      return "int " + std::to_string(integer);
    case Kind::String:
      return "string '" + text.substr(0, 64) + "'";
    case Kind::Tuple:
    case Kind::List:
      return std::string(kind_name(kind)) + " of " + std::to_string(items.size());
    case Kind::Dict:
      return "dict of " + std::to_string(entries.size());
    case Kind::Global:
      return "global " + text;
    case Kind::Call:
      return "call of " + text;
    default:
      return kind_name(kind);
  }
}

const std::string& PickleValue::str(const char* what) const {
  AFN_CHECK(kind == Kind::String || kind == Kind::Bytes, what, ": expected a string, found ",
            describe());
  return text;
}

int64_t PickleValue::to_int(const char* what) const {
  AFN_CHECK(kind == Kind::Int || kind == Kind::Bool, what, ": expected an integer, found ",
            describe());
  return kind == Kind::Bool ? int64_t(boolean) : integer;
}

const std::vector<PickleValue*>& PickleValue::tuple(const char* what) const {
  AFN_CHECK(kind == Kind::Tuple || kind == Kind::List, what, ": expected a tuple, found ",
            describe());
  return items;
}

const PickleValue* PickleValue::get(std::string_view key) const {
  if (kind != Kind::Dict) return nullptr;
  for (const auto& [k, v] : entries)
    if ((k->kind == Kind::String || k->kind == Kind::Bytes) && k->text == key) return v;
  return nullptr;
}

// ---- the machine ------------------------------------------------------------------------------

class Unpickler {
 public:
  Unpickler(ByteSpan in, const std::string& context) : in_(in), context_(context) {}

  Pickle run() {
    while (true) {
      AFN_CHECK(pos_ < in_.size, context_, ": pickle ends at byte ", pos_,
                " without a STOP opcode; the file is truncated");
      op_pos_ = pos_;
      op_ = char(in_.data[pos_++]);
      if (op_ == '.') break;
      step();
    }
    out_.root_ = pop();
    out_.consumed_ = pos_;
    check_structure(out_.root_);
    return std::move(out_);
  }

 private:
  using K = PickleValue::Kind;

  [[noreturn]] void fail(const std::string& msg) const {
    AFN_FAIL(context_, ": pickle: ", msg, " (opcode 0x", hex(uint8_t(op_)), " at byte ", op_pos_,
             ")");
  }
  static std::string hex(uint8_t b) {
    const char* d = "0123456789abcdef";
    return {d[b >> 4], d[b & 15]};
  }

  // ---- input ----
  const uint8_t* take(uint64_t n) {
    if (n > in_.size - pos_)
      fail("needs " + std::to_string(n) + " bytes but only " + std::to_string(in_.size - pos_) +
           " remain; the file is truncated or a length is corrupt");
    const uint8_t* p = in_.data + pos_;
    pos_ += size_t(n);
    return p;
  }
  uint64_t le(int n) {
    const uint8_t* p = take(uint64_t(n));
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
  }
  std::string line() {  // protocol-0 argument: up to the next newline
    const void* nl = std::memchr(in_.data + pos_, '\n', in_.size - pos_);
    if (!nl) fail("a text argument has no terminating newline; the file is truncated");
    const auto* end = static_cast<const uint8_t*>(nl);
    std::string s(reinterpret_cast<const char*>(in_.data + pos_), size_t(end - in_.data - pos_));
    pos_ = size_t(end - in_.data) + 1;
    return s;
  }

  // ---- stack ----
  PickleValue* make(K kind) {
    if (out_.arena_.size() >= PickleLimits::kMaxValues)
      fail("more than " + std::to_string(PickleLimits::kMaxValues) +
           " values; a state_dict needs far fewer, the pickle is hostile or corrupt");
    PickleValue& v = out_.arena_.emplace_back();
    v.kind = kind;
    return &v;
  }
  size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PickleValue* v) {
    // DUP / GET push without making a value: the stack needs a bound of its own.
    if (stack_.size() >= PickleLimits::kMaxItems)
      fail("the stack holds more than " + std::to_string(PickleLimits::kMaxItems) + " values");
    stack_.push_back(v);
  }
  PickleValue* pop() {
    if (stack_.size() <= fence()) fail("stack underflow");
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= fence()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<PickleValue*> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    std::vector<PickleValue*> items(stack_.begin() + std::ptrdiff_t(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  PickleValue* expect(PickleValue* v, K kind, const char* role) {
    if (v->kind != kind)
      fail(std::string(role) + " must be a " + kind_name(kind) + ", found " + v->describe());
    return v;
  }

  // ---- value builders ----
  void push_int(int64_t v) {
    PickleValue* p = make(K::Int);
    p->integer = v;
    push(p);
  }
  void push_text(K kind, std::string s) {
    PickleValue* p = make(kind);
    p->text = std::move(s);
    push(p);
  }
  void push_sized_text(K kind, uint64_t n) {
    const uint8_t* p = take(n);
    push_text(kind, std::string(reinterpret_cast<const char*>(p), size_t(n)));
  }
  void check_length(size_t n, const char* container) {
    if (n > PickleLimits::kMaxItems)
      fail(std::string("a ") + container + " of " + std::to_string(n) + " items (the limit is " +
           std::to_string(PickleLimits::kMaxItems) + ")");
  }
  void push_tuple(std::vector<PickleValue*> items) {
    PickleValue* t = make(K::Tuple);
    t->items = std::move(items);
    push(t);
  }
  // LONG1 / LONG4: n bytes of little-endian two's complement.
  void push_long(uint64_t n) {
    if (n > PickleLimits::kMaxLongBytes)
      fail("an integer of " + std::to_string(n) + " bytes (the limit is " +
           std::to_string(PickleLimits::kMaxLongBytes) + "; torch pickles need at most 10)");
    const uint8_t* p = take(n);
    // Fits in int64 when every byte past the eighth repeats the sign.
    const uint8_t sign = (n > 0 && (p[n - 1] & 0x80)) ? 0xff : 0x00;
    bool fits = n <= 8 || (p[7] & 0x80) == (sign & 0x80);
    for (uint64_t i = 8; fits && i < n; ++i) fits = p[i] == sign;
    if (!fits) return push_text(K::BigInt, std::string(reinterpret_cast<const char*>(p), n));
    uint64_t v = sign ? ~uint64_t(0) : 0;
    for (uint64_t i = 0; i < std::min<uint64_t>(n, 8); ++i) {
      v &= ~(uint64_t(0xff) << (8 * i));
      v |= uint64_t(p[i]) << (8 * i);
    }
    push_int(int64_t(v));
  }
  void push_decimal(const std::string& s, bool allow_bool) {
    if (allow_bool && (s == "00" || s == "01")) {  // protocol 0 writes False/True as I00 / I01
      PickleValue* b = make(K::Bool);
      b->boolean = s == "01";
      return push(b);
    }
    std::string digits = s;
    if (!digits.empty() && digits.back() == 'L') digits.pop_back();  // Python 2 long
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(digits, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != digits.size()) fail("bad integer literal '" + s.substr(0, 32) + "'");
    push_int(v);
  }
  // Protocol 0 STRING: a Python repr, quoted, with backslash escapes.
  std::string unquote(const std::string& s) {
    if (s.size() < 2 || (s[0] != '\'' && s[0] != '"') || s.back() != s[0])
      fail("STRING argument is not quoted");
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] != '\\' || i + 2 >= s.size()) {
        out += s[i];
        continue;
      }
      const char c = s[++i];
      if (c == 'n')
        out += '\n';
      else if (c == 't')
        out += '\t';
      else if (c == 'r')
        out += '\r';
      else if (c == 'x' && i + 2 < s.size() - 1 && std::isxdigit(uint8_t(s[i + 1])) &&
               std::isxdigit(uint8_t(s[i + 2]))) {
        out += char(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
        i += 2;
      } else {
        out += c;
      }
    }
    return out;
  }

  // ---- globals and calls ----
  void push_global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    // The one place a name resolves: refuse before anything else runs.
    if (!is_allowed_global(full))
      fail("refusing to load global '" + full +
           "': a weights file may only name the globals a state_dict needs (" +
           Pickle::allowed_globals() +
           "). The file holds something other than tensors (perhaps a whole model saved with "
           "torch.save(model) or a malicious payload); save model.state_dict() instead");
    push_text(K::Global, full);
  }
  void push_call(PickleValue* callee, std::vector<PickleValue*> args, bool new_object) {
    expect(callee, K::Global, new_object ? "the class of NEWOBJ" : "the callable of REDUCE");
    // NEWOBJ / INST / OBJ make cls.__new__(cls, ...): only classes, never the rebuild functions.
    if (new_object && callee->text != "collections.OrderedDict" &&
        !torch_scalar_of_global(callee->text))
      fail("NEWOBJ/INST/OBJ of " + callee->text + ", which is a function, not a class");
    if (callee->text == "collections.OrderedDict") {
      if (!args.empty()) fail("OrderedDict with constructor arguments is not supported");
      return push(make(K::Dict));
    }
    PickleValue* c = make(K::Call);
    c->text = callee->text;
    c->items = std::move(args);
    c->new_object = new_object;
    push(c);
  }
  void build() {
    PickleValue* state = pop();
    PickleValue* obj = top();
    if (obj->kind == K::Dict) return;  // OrderedDict's BUILD sets _metadata: not needed
    if (obj->kind != K::Call || obj->state) fail("BUILD on " + obj->describe());
    obj->state = state;
  }

  // ---- containers ----
  void append_to(PickleValue* list, std::vector<PickleValue*> items) {
    expect(list, K::List, "the target of APPEND");
    check_length(list->items.size() + items.size(), "list");
    list->items.insert(list->items.end(), items.begin(), items.end());
  }
  void set_items(PickleValue* dict, const std::vector<PickleValue*>& kv) {
    expect(dict, K::Dict, "the target of SETITEM");
    if (kv.size() % 2) fail("SETITEMS with an odd number of items");
    check_length(dict->entries.size() + kv.size() / 2, "dict");
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }

  // ---- memo ----
  void put(uint64_t index) {
    // Python's pickler numbers memo entries 0, 1, 2...: an index past the limit is not one of its.
    if (index >= PickleLimits::kMaxMemo)
      fail("memo index " + std::to_string(index) + " is out of range (the limit is " +
           std::to_string(PickleLimits::kMaxMemo) + ")");
    memo_[index] = top();
  }
  void get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo key " + std::to_string(index) + " was never stored");
    push(it->second);
  }

  // ---- structure ----
  // The values reachable from the root must form a DAG (sharing through the memo is fine, a
  // container reaching itself is not) no deeper than kMaxDepth, so that consumers may walk it
  // recursively. An iterative depth-first walk: on_path marks the values on the current path.
  static size_t child_count(const PickleValue* v) {
    return v->items.size() + 2 * v->entries.size() + (v->state ? 1 : 0);
  }
  static PickleValue* child(const PickleValue* v, size_t i) {
    if (i < v->items.size()) return v->items[i];
    i -= v->items.size();
    if (i < 2 * v->entries.size())
      return i % 2 ? v->entries[i / 2].second : v->entries[i / 2].first;
    return v->state;
  }
  void check_structure(const PickleValue* root) const {
    enum class Mark : uint8_t { OnPath, Done };
    std::unordered_map<const PickleValue*, Mark> marks;
    std::vector<std::pair<const PickleValue*, size_t>> path = {{root, 0}};
    marks[root] = Mark::OnPath;
    while (!path.empty()) {
      auto& [v, next] = path.back();
      if (next == child_count(v)) {
        marks[v] = Mark::Done;
        path.pop_back();
        continue;
      }
      const PickleValue* c = child(v, next++);
      auto [it, fresh] = marks.emplace(c, Mark::OnPath);
      if (!fresh && it->second == Mark::OnPath)
        fail("recursive structure: a " + std::string(kind_name(c->kind)) +
             " contains itself (through the memo or DUP); a state_dict never does");
      if (!fresh) continue;
      if (path.size() >= PickleLimits::kMaxDepth)
        fail("values nested more than " + std::to_string(PickleLimits::kMaxDepth) +
             " deep; a state_dict nests a few levels, the pickle is hostile or corrupt");
      path.emplace_back(c, 0);
    }
  }

  void step() {
    switch (op_) {
      case '\x80': {  // PROTO
        const uint64_t proto = le(1);
        if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
        return;
      }
      case '\x95':  // FRAME (protocol 4): a length prefix only
        le(8);
        return;
      case '(':  // MARK
        if (marks_.size() >= PickleLimits::kMaxDepth)
          fail("more than " + std::to_string(PickleLimits::kMaxDepth) +
               " nested MARKs; a state_dict nests a few levels, the pickle is hostile or corrupt");
        marks_.push_back(stack_.size());
        return;
      case '0':  // POP
        if (stack_.size() > fence()) return stack_.pop_back();
        pop_mark();
        return;
      case '1':  // POP_MARK
        pop_mark();
        return;
      case '2':  // DUP
        return push(top());
      case 'N':
        return push(make(K::None));
      case '\x88':
      case '\x89': {  // NEWTRUE / NEWFALSE
        PickleValue* b = make(K::Bool);
        b->boolean = op_ == '\x88';
        return push(b);
      }
      case 'I':
        return push_decimal(line(), true);
      case 'L':
        return push_decimal(line(), false);
      case 'J':
        return push_int(int32_t(uint32_t(le(4))));
      case 'K':
        return push_int(int64_t(le(1)));
      case 'M':
        return push_int(int64_t(le(2)));
      case '\x8a':  // LONG1
        return push_long(le(1));
      case '\x8b': {  // LONG4
        const auto n = int32_t(uint32_t(le(4)));
        if (n < 0) fail("negative LONG4 length");
        return push_long(uint64_t(n));
      }
      case 'F': {
        const std::string s = line();
        char* end = nullptr;
        PickleValue* f = make(K::Float);
        f->real = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) fail("bad float literal");
        return push(f);
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        PickleValue* f = make(K::Float);
        std::memcpy(&f->real, &bits, 8);
        return push(f);
      }
      case 'S':
        return push_text(K::String, unquote(line()));
      case 'V':  // UNICODE: raw-unicode-escape; state_dict keys are ASCII
        return push_text(K::String, line());
      case 'T':  // BINSTRING
      case 'X':  // BINUNICODE
        return push_sized_text(K::String, le(4));
      case 'U':     // SHORT_BINSTRING
      case '\x8c':  // SHORT_BINUNICODE
        return push_sized_text(K::String, le(1));
      case '\x8d':  // BINUNICODE8
        return push_sized_text(K::String, le(8));
      case 'B':
        return push_sized_text(K::Bytes, le(4));
      case 'C':
        return push_sized_text(K::Bytes, le(1));
      case '\x8e':
        return push_sized_text(K::Bytes, le(8));
      case ')':
        return push_tuple({});
      case 't':
        return push_tuple(pop_mark());
      case '\x85':
      case '\x86':
      case '\x87': {  // TUPLE1..3
        std::vector<PickleValue*> items(size_t(op_ - '\x84'));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        return push_tuple(std::move(items));
      }
      case ']':
        return push(make(K::List));
      case 'l': {
        PickleValue* l = make(K::List);
        l->items = pop_mark();
        return push(l);
      }
      case 'a': {
        PickleValue* v = pop();
        return append_to(top(), {v});
      }
      case 'e': {
        std::vector<PickleValue*> items = pop_mark();
        return append_to(top(), std::move(items));
      }
      case '}':
        return push(make(K::Dict));
      case 'd': {
        PickleValue* d = make(K::Dict);
        set_items(d, pop_mark());
        return push(d);
      }
      case 's': {
        PickleValue* v = pop();
        PickleValue* k = pop();
        return set_items(top(), {k, v});
      }
      case 'u': {
        std::vector<PickleValue*> kv = pop_mark();
        return set_items(top(), kv);
      }
      case 'p': {
        const std::string s = line();
        size_t used = 0;
        uint64_t index = 0;
        try {
          index = std::stoull(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != s.size() || s[0] == '-' || s[0] == '+')
          fail("bad PUT index '" + s.substr(0, 32) + "'");
        return put(index);
      }
      case 'q':
        return put(le(1));
      case 'r':
        return put(le(4));
      case '\x94':  // MEMOIZE
        return put(memo_.size());
      case 'g': {
        const std::string s = line();
        char* end = nullptr;
        const uint64_t index = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || end != s.c_str() + s.size() || !std::isdigit(uint8_t(s[0])))
          fail("bad GET index '" + s.substr(0, 32) + "'");
        return get(index);
      }
      case 'h':
        return get(le(1));
      case 'j':
        return get(le(4));
      case 'c': {  // GLOBAL module\nname\n
        const std::string module = line();
        return push_global(module, line());
      }
      case '\x93': {  // STACK_GLOBAL
        PickleValue* name = pop();
        PickleValue* module = pop();
        return push_global(expect(module, K::String, "STACK_GLOBAL's module")->text,
                           expect(name, K::String, "STACK_GLOBAL's name")->text);
      }
      case 'i': {  // INST module\nname\n: class called with the items since MARK
        const std::string module = line();
        push_global(module, line());
        PickleValue* cls = pop();
        return push_call(cls, pop_mark(), true);
      }
      case 'o': {  // OBJ: MARK cls args...
        std::vector<PickleValue*> items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        PickleValue* cls = items.front();
        items.erase(items.begin());
        return push_call(cls, std::move(items), true);
      }
      case 'R': {
        PickleValue* args = expect(pop(), K::Tuple, "the arguments of REDUCE");
        return push_call(pop(), args->items, false);
      }
      case '\x81': {  // NEWOBJ
        PickleValue* args = expect(pop(), K::Tuple, "the arguments of NEWOBJ");
        return push_call(pop(), args->items, true);
      }
      case 'b':
        return build();
      case 'P': {
        PickleValue* id = make(K::PersistentId);
        id->items.push_back(make(K::String));
        id->items[0]->text = line();
        return push(id);
      }
      case 'Q': {
        PickleValue* id = make(K::PersistentId);
        id->items.push_back(pop());
        return push(id);
      }
      case '\x82':
      case '\x83':
      case '\x84':
        fail("extension registry opcodes (EXT1/2/4) are not allowed: they name arbitrary globals");
      default:
        fail("unknown or unsupported opcode; this is not a torch.save pickle or it is corrupt");
    }
  }

  ByteSpan in_;
  const std::string& context_;
  size_t pos_ = 0, op_pos_ = 0;
  char op_ = 0;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue*> memo_;
  Pickle out_;
};

Pickle Pickle::parse(ByteSpan bytes, const std::string& context) {
  return Unpickler(bytes, context).run();
}

// ---- writer -----------------------------------------------------------------------------------

namespace {
void put_le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out += char(uint8_t(v >> (8 * i)));
}
}  // namespace

PickleWriter::PickleWriter() {
  out_ = "\x80\x02";
}

void PickleWriter::global(const std::string& module, const std::string& name) {
  const std::string full = module + "\n" + name + "\n";
  for (const auto& [n, index] : memo_) {
    if (n != full) continue;
    // BINGET / LONG_BINGET
    if (index < 256) {
      op('h');
      put_le(out_, index, 1);
    } else {
      op('j');
      put_le(out_, index, 4);
    }
    return;
  }
  op('c');
  out_ += full;
  const auto index = uint32_t(memo_.size());
  memo_.emplace_back(full, index);
  if (index < 256) {
    op('q');
    put_le(out_, index, 1);
  } else {
    op('r');
    put_le(out_, index, 4);
  }
}

void PickleWriter::string(const std::string& s) {
  op('X');
  put_le(out_, s.size(), 4);
  out_ += s;
}

void PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    op('K');
    put_le(out_, uint64_t(v), 1);
  } else if (v >= 0 && v < 65536) {
    op('M');
    put_le(out_, uint64_t(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op('J');
    put_le(out_, uint64_t(uint32_t(int32_t(v))), 4);
  } else {
    // LONG1 with the fewest bytes that keep the sign, as Python's encode_long.
    int n = 8;
    while (n > 1) {
      const int64_t shifted = v >> (8 * (n - 1) - 1);
      if (shifted != 0 && shifted != -1) break;
      --n;
    }
    op('\x8a');
    put_le(out_, uint64_t(n), 1);
    put_le(out_, uint64_t(v), n);
  }
}

void PickleWriter::int_tuple(const std::vector<int64_t>& v) {
  // EMPTY_TUPLE / TUPLE1..3 for short tuples, MARK ... TUPLE otherwise, as Python's save_tuple.
  if (v.empty()) return empty_tuple();
  if (v.size() > 3) mark();
  for (int64_t x : v) integer(x);
  if (v.size() > 3) return tuple_from_mark();
  op(char(0x84 + v.size()));
}

}  // namespace afinar::io
