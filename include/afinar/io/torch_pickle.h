// A restricted pickle machine for torch.save files: it builds a small tree of values and never
// executes anything. Protocols 0-2 (and the few protocol 3-4 opcodes a torch pickle could carry);
// only the globals a state_dict needs resolve (FORMATS.md "Pickle"):
//   collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor,
//   torch._utils._rebuild_parameter, torch.<Type>Storage and the legacy torch.<Type>Tensor classes.
// Any other global (os.system, builtins.eval, a model class...) is refused, naming it, at the
// opcode that reads it, before any later opcode runs. Calls are not made: REDUCE / NEWOBJ / INST /
// OBJ become Call nodes (target name + arguments + BUILD state) for the caller to interpret, and
// OrderedDict() becomes a plain Dict. Stack underflow, unknown opcodes, truncated input and
// lengths beyond the input are errors naming the opcode and byte offset.
//
// Hostile input (tests/io/hostile_pth_test.cpp runs tests/data/fixtures/hostile/): besides the
// whitelist, explicit limits (PickleLimits) bound what a pickle may make, so that memory stays
// proportional to its size and no consumer recurses without bound. Past the end (at STOP) the
// values reachable from the root must form a DAG: a container that contains itself is refused.
//
//   Pickle p = Pickle::parse(bytes, "resnet18.pth: data.pkl");
//   for (auto [key, value] : p.root().dict_items()) ...   // key->str(), value->kind == Call
//
// PickleWriter emits protocol 2 the way torch.save does for a state_dict (see save_torch_file).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "afinar/io/mapped_file.h"

namespace afinar::io {

// Element types of torch's storage classes: torch.FloatStorage ... (and legacy torch.FloatTensor).
enum class TorchScalar : uint8_t {
  Float,
  Double,
  Half,
  BFloat16,
  Long,
  Int,
  Short,
  Char,
  Byte,
  Bool
};
size_t element_size(TorchScalar t);
const char* torch_storage_name(TorchScalar t);  // "FloatStorage"
// The element type named by a global "torch.FloatStorage" or "torch.FloatTensor"; nullopt for
// anything else.
std::optional<TorchScalar> torch_scalar_of_global(std::string_view qualified_name);

// The machine's limits; each refusal names the limit. Real torch.save pickles stay far below
// them: a state_dict nests ~5 levels (dict, tensor call, args tuple, persistent id, shape) and
// resnet152's has ~20k values and memo entries.
struct PickleLimits {
  // Open MARKs at once, and the nesting depth of the finished value tree (root = 1).
  static constexpr size_t kMaxDepth = 256;
  // Values made (112 bytes each, so at most ~120 MiB whatever the input; one per opcode).
  static constexpr size_t kMaxValues = size_t(1) << 20;
  // Memo indices are below this (Python's pickler numbers them 0, 1, 2...).
  static constexpr uint64_t kMaxMemo = uint64_t(1) << 20;
  // Items of one list / tuple / dict, and values on the stack (GET / DUP push no new value).
  static constexpr size_t kMaxItems = size_t(1) << 20;
  // Bytes of a LONG1 / LONG4 integer (torch's legacy magic number has 10).
  static constexpr uint64_t kMaxLongBytes = 64;
};

struct PickleValue {
  enum class Kind : uint8_t {
    None,
    Bool,
    Int,     // fits in int64
    BigInt,  // longer LONG1/LONG4: `text` holds the little-endian two's-complement bytes
    Float,
    String,  // unicode and Python 2 str
    Bytes,
    Tuple,
    List,
    Dict,          // dict and OrderedDict, insertion order kept
    Global,        // `text` = "module.name", already whitelisted
    Call,          // `text` = target, `items` = arguments, `state` = BUILD's argument or null
    PersistentId,  // items[0] = the id (torch: a tuple)
  };
  Kind kind = Kind::None;
  bool new_object = false;  // Call made by NEWOBJ/INST/OBJ (cls.__new__) rather than REDUCE
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  std::vector<PickleValue*> items;
  std::vector<std::pair<PickleValue*, PickleValue*>> entries;  // Dict
  PickleValue* state = nullptr;

  bool is(Kind k) const { return kind == k; }
  // Typed access; each throws an error naming `what` and the value actually found.
  const std::string& str(const char* what) const;                  // String or Bytes
  int64_t to_int(const char* what) const;                          // Int or Bool
  const std::vector<PickleValue*>& tuple(const char* what) const;  // Tuple or List
  // The value under a string key of a Dict, or nullptr.
  const PickleValue* get(std::string_view key) const;
  // A short description for error messages: "tuple of 3", "string 'abc'", "global os.system".
  std::string describe() const;
};

class Pickle {
 public:
  // Runs the machine from the first byte of `bytes` to the STOP opcode. `context` prefixes error
  // messages (e.g. "vgg16.pth: data.pkl").
  static Pickle parse(ByteSpan bytes, const std::string& context);
  Pickle(Pickle&&) = default;
  Pickle& operator=(Pickle&&) = default;

  const PickleValue& root() const { return *root_; }
  // Bytes read, STOP included: where the next pickle of a legacy file starts.
  size_t consumed() const { return consumed_; }
  // The globals the machine resolves, for error messages and documentation.
  static std::string allowed_globals();

 private:
  Pickle() = default;
  friend class Unpickler;
  std::deque<PickleValue> arena_;  // owns every value; pointers stay valid as it grows
  PickleValue* root_ = nullptr;
  size_t consumed_ = 0;
};

// Protocol-2 writer with the opcodes torch.save uses for a state_dict. Globals are memoized
// (BINPUT on first use, BINGET after), as Python's pickler does.
class PickleWriter {
 public:
  PickleWriter();  // PROTO 2
  void global(const std::string& module, const std::string& name);
  void mark() { op('('); }
  void tuple_from_mark() { op('t'); }
  void empty_tuple() { op(')'); }
  void empty_dict() { op('}'); }
  void string(const std::string& s);  // BINUNICODE
  void integer(int64_t v);            // BININT1 / BININT2 / BININT / LONG1, as Python chooses
  void int_tuple(const std::vector<int64_t>& v);
  void boolean(bool v) { op(v ? '\x88' : '\x89'); }
  void none() { op('N'); }
  void binpersid() { op('Q'); }
  void reduce() { op('R'); }
  void setitems() { op('u'); }
  void stop() { op('.'); }
  const std::string& bytes() const { return out_; }

 private:
  void op(char c) { out_ += c; }
  std::string out_;
  std::vector<std::pair<std::string, uint32_t>> memo_;  // global name -> memo index
};

}  // namespace afinar::io
