// The restricted pickle machine on hand-written opcode streams (bytes as CPython's pickler and
// pickletools document them): values and containers, OrderedDict and calls as data, refusal of
// every global outside the whitelist at the opcode that names it, and clear errors for stack
// underflow, unknown opcodes, truncation and absurd lengths. The writer's integer encodings are
// compared with bytes from Python's pickle.dumps(v, protocol=2).
#include "afinar/io/torch_pickle.h"

#include <gtest/gtest.h>

#include "afinar/core/check.h"

namespace afinar {
namespace {

using namespace std::string_literals;

using K = io::PickleValue::Kind;

io::Pickle parse(const std::string& bytes) {
  static const std::string source = "test.pkl";
  return io::Pickle::parse({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &source},
                           source);
}

std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& bytes, const std::string& fragment) {
  const std::string msg = error_of(bytes);
  EXPECT_NE(msg.find(fragment), std::string::npos) << "wanted '" << fragment << "', got: " << msg;
}

std::string b(std::initializer_list<int> bytes) {
  std::string s;
  for (int v : bytes) s += char(v);
  return s;
}

TEST(TorchPickle, ScalarsAndStrings) {
  EXPECT_EQ(parse("\x80\x02K\x07.").root().integer, 7);                                 // BININT1
  EXPECT_EQ(parse("\x80\x02M,\x01.").root().integer, 300);                              // BININT2
  EXPECT_EQ(parse(b({0x80, 2, 'J', 0xff, 0xff, 0xff, 0xff, '.'})).root().integer, -1);  // BININT
  EXPECT_EQ(parse(b({0x80, 2, 0x8a, 5, 0, 0, 0, 0x80, 0, '.'})).root().integer,
            int64_t(1) << 31);  // LONG1
  EXPECT_EQ(parse(b({0x80, 2, 0x8a, 5, 0xff, 0xff, 0xff, 0x7f, 0xff, '.'})).root().integer,
            -(int64_t(1) << 31) - 1);
  EXPECT_EQ(parse(b({0x80, 2, 0x8a, 0, '.'})).root().integer, 0);
  EXPECT_EQ(parse("I42\n.").root().integer, 42);  // protocol 0
  EXPECT_EQ(parse("L-5L\n.").root().integer, -5);
  EXPECT_TRUE(parse("I01\n.").root().boolean);
  EXPECT_TRUE(parse("\x80\x02\x88.").root().boolean);
  EXPECT_FALSE(parse("\x80\x02\x89.").root().boolean);
  EXPECT_TRUE(parse("N.").root().is(K::None));
  EXPECT_DOUBLE_EQ(parse("F0.25\n.").root().real, 0.25);
  EXPECT_DOUBLE_EQ(parse(b({'G', 0x3f, 0xd0, 0, 0, 0, 0, 0, 0, '.'})).root().real, 0.25);
  EXPECT_EQ(parse(b({'X', 3, 0, 0, 0, 'a', 'b', 'c', '.'})).root().text, "abc");  // BINUNICODE
  EXPECT_EQ(parse(b({'U', 2, 'h', 'i', '.'})).root().text, "hi");  // SHORT_BINSTRING (Python 2)
  EXPECT_EQ(parse(b({'T', 2, 0, 0, 0, 'h', 'i', '.'})).root().text, "hi");  // BINSTRING
  EXPECT_EQ(parse(b({0x8c, 1, 'z', '.'})).root().text, "z");                // SHORT_BINUNICODE
  EXPECT_EQ(parse("S'a\\nb'\n.").root().text, "a\nb");                      // STRING with an escape
  EXPECT_TRUE(parse(b({'C', 1, 'z', '.'})).root().is(K::Bytes));
}

TEST(TorchPickle, TheLegacyMagicNumberIsABigInt) {
  // pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2): 10 bytes, more than int64 holds.
  const auto p = parse(
      b({0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'}));
  EXPECT_TRUE(p.root().is(K::BigInt));
  EXPECT_EQ(p.root().text.size(), 10u);
  EXPECT_EQ(p.consumed(), 15u);
}

TEST(TorchPickle, ContainersMemoAndMarks) {
  // ((1, 2, 3), [1, 'x'], {'k': 1}, <the same list again through the memo>)
  const std::string bytes =
      "\x80\x02((K\x01K\x02K\x03t]q\x00(K\x01X\x01\x00\x00\x00xe}(X\x01\x00\x00\x00kK\x01uh\x00t."s;
  const auto p = parse(bytes);
  const auto& top = p.root();
  ASSERT_TRUE(top.is(K::Tuple));
  ASSERT_EQ(top.items.size(), 4u);
  EXPECT_EQ(top.items[0]->items.size(), 3u);
  EXPECT_EQ(top.items[0]->items[2]->integer, 3);
  ASSERT_TRUE(top.items[1]->is(K::List));
  ASSERT_EQ(top.items[1]->items.size(), 2u);
  EXPECT_EQ(top.items[1]->items[1]->text, "x");
  EXPECT_TRUE(top.items[2]->is(K::Dict));
  EXPECT_EQ(top.items[2]->get("k")->integer, 1);
  EXPECT_EQ(top.items[2]->get("nope"), nullptr);
  EXPECT_EQ(top.items[3], top.items[1]);                    // the memo gives back the same object
  EXPECT_EQ(parse("(I1\nI2\nl.").root().items.size(), 2u);  // LIST from MARK, protocol 0
  EXPECT_EQ(parse("(S'k'\nI1\nd.").root().get("k")->integer, 1);
  EXPECT_EQ(parse("I1\nI2\n0.").root().integer, 1);            // POP
  EXPECT_EQ(parse("I1\n(I2\nI3\n1.").root().integer, 1);       // POP_MARK
  EXPECT_EQ(parse("I7\n2\x86.").root().items[1]->integer, 7);  // DUP then TUPLE2
}

TEST(TorchPickle, OrderedDictIsADictAndCallsAreData) {
  // What torch.save writes around every tensor, shortened: OrderedDict() with SETITEMS and a
  // BUILD of _metadata (ignored), and a REDUCE of _rebuild_tensor_v2 kept as a Call.
  const std::string bytes =
      "\x80\x02\x63\x63ollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00w"s
      "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"s
      "X\x01\x00\x00\x00"s
      "0X\x03\x00\x00\x00\x63puK\x02tQK\x00K\x02\x85K\x01\x85\x89h\x00)Rtq\x02Ru"s
      "}X\x09\x00\x00\x00_metadatah\x00)Rsb."s;
  const auto p = parse(bytes);
  const auto& sd = p.root();
  ASSERT_TRUE(sd.is(K::Dict));
  ASSERT_EQ(sd.entries.size(), 1u);
  const auto* w = sd.get("w");
  ASSERT_TRUE(w && w->is(K::Call));
  EXPECT_EQ(w->text, "torch._utils._rebuild_tensor_v2");
  ASSERT_EQ(w->items.size(), 6u);
  EXPECT_TRUE(w->items[0]->is(K::PersistentId));
  const auto& pid = w->items[0]->items[0]->items;
  EXPECT_EQ(pid[0]->text, "storage");
  EXPECT_EQ(pid[1]->text, "torch.FloatStorage");
  EXPECT_EQ(pid[4]->integer, 2);
  EXPECT_TRUE(w->items[5]->is(K::Dict));  // backward_hooks: OrderedDict()
}

TEST(TorchPickle, NewobjAndBuildForLegacyTensorClasses) {
  // torch 0.1.10: GLOBAL torch.FloatTensor, EMPTY_TUPLE, NEWOBJ, state tuple, BUILD.
  const auto p = parse("\x80\x02\x63torch\nFloatTensor\n)\x81(K\x01K\x02tb.");
  EXPECT_TRUE(p.root().is(K::Call));
  EXPECT_TRUE(p.root().new_object);
  ASSERT_NE(p.root().state, nullptr);
  EXPECT_EQ(p.root().state->items.size(), 2u);
  expect_error(
      "\x80\x02\x63torch\nFloatTensor\n)\x81K\x01"
      "bK\x02"
      "b.",
      "BUILD on call");
}

TEST(TorchPickle, RefusesEveryOtherGlobalByNameWhenRead) {
  for (const std::string& name :
       {std::string("os\nsystem"), std::string("posix\nsystem"), std::string("builtins\neval"),
        std::string("__builtin__\nexec"), std::string("torch\nload"),
        std::string("collections\ndeque"), std::string("torch._utils\n_rebuild_qtensor"),
        std::string("torchvision.models.resnet\nResNet")}) {
    const std::string dotted =
        name.substr(0, name.find('\n')) + "." + name.substr(name.find('\n') + 1);
    // The global is followed by garbage and no STOP: the refusal must come first, naming it.
    expect_error("\x80\x02\x63" + name + "\n\xff\xff", "refusing to load global '" + dotted + "'");
    expect_error("\x80\x02\x63" + name + "\n(S'touch /tmp/x'\ntR.",
                 "refusing to load global '" + dotted + "'");
  }
  // STACK_GLOBAL (protocol 4) and INST (protocol 0) go through the same check.
  expect_error(b({0x80, 4, 0x8c, 2, 'o', 's', 0x8c, 6, 's', 'y', 's', 't', 'e', 'm', 0x93}),
               "refusing to load global 'os.system'");
  expect_error("(S'ls'\nios\nsystem\n.", "refusing to load global 'os.system'");
  // Extension codes name globals through a registry: refused outright.
  expect_error(b({0x80, 2, 0x82, 1, '.'}), "extension registry");
}

TEST(TorchPickle, MalformedStreamsGiveClearErrors) {
  expect_error("\x80\x02t.", "no MARK");
  expect_error("\x80\x02.", "stack underflow");
  expect_error("\x80\x02(.", "stack underflow");  // a MARK fences the stack
  expect_error("\x80\x02)R.", "stack underflow");
  expect_error("\x80\x02K\x01K\x02R.", "arguments of REDUCE must be a tuple");
  expect_error("\x80\x02K\x01)R.", "callable of REDUCE must be a global");
  expect_error("\x80\x02K\x00K\x01K\x02s."s, "target of SETITEM must be a dict");
  expect_error("\x80\x02h\x05.", "memo key 5 was never stored");
  expect_error("\x80\x02\xff.", "unknown or unsupported opcode");
  expect_error("\x80\x09N.", "unsupported pickle protocol 9");
  expect_error("\x80\x02K\x01", "without a STOP opcode");
  expect_error("I12", "no terminating newline");
  expect_error("Ixyz\n.", "bad integer literal");
  // A length far beyond the input is refused before anything is allocated.
  expect_error(b({0x80, 2, 'X', 0xf0, 0xff, 0xff, 0xff, 'a'}), "needs 4294967280 bytes");
  expect_error(b({0x80, 2, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
               "needs 9223372036854775807 bytes");
  expect_error(b({0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0xff}), "negative LONG4 length");
}

TEST(TorchPickle, NestingLimitsRefuseOnePastTheLimit) {
  using L = io::PickleLimits;
  // N wrapped in TUPLE1 k times is k + 1 levels deep: the limit itself passes, one more fails.
  EXPECT_NO_THROW(parse("\x80\x02N" + std::string(L::kMaxDepth - 1, '\x85') + "."));
  expect_error("\x80\x02N" + std::string(L::kMaxDepth, '\x85') + ".",
               "values nested more than 256 deep");
  // MARKs open at once: kMaxDepth empty tuples nested by TUPLE pass, one more MARK fails.
  EXPECT_NO_THROW(parse(std::string(L::kMaxDepth, '(') + std::string(L::kMaxDepth, 't') + "."));
  expect_error(std::string(L::kMaxDepth + 1, '('), "more than 256 nested MARKs");
}

TEST(TorchPickle, RecursiveStructuresAreRefusedSharingIsNot) {
  // l = []; l.append(l) through the memo and through DUP; d = {}; d['a'] = d.
  expect_error(b({0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'}),
               "recursive structure: a list contains itself");
  expect_error("\x80\x02]2a.", "recursive structure: a list contains itself");
  expect_error(b({0x80, 2, '}', 'q', 0, 'X', 1, 0, 0, 0, 'a', 'h', 0, 's', '.'}),
               "recursive structure: a dict contains itself");
  // A cycle through a BUILD state: FloatTensor.__new__() with itself as its state.
  expect_error("\x80\x02\x63torch\nFloatTensor\n)\x81"s + b({'q', 0, 'h', 0, 'b', '.'}),
               "recursive structure: a call contains itself");
  // The same list twice in a tuple is a DAG, as torch writes shared storages.
  const auto p = parse(b({0x80, 2, ']', 'q', 0, 'h', 0, 0x86, '.'}));
  EXPECT_EQ(p.root().items[0], p.root().items[1]);
}

TEST(TorchPickle, MemoIndicesOutsideTheLimitAreRefused) {
  using L = io::PickleLimits;
  const uint64_t last = L::kMaxMemo - 1;
  const std::string put_last =
      b({'r', int(last & 0xff), int((last >> 8) & 0xff), int((last >> 16) & 0xff), 0});
  EXPECT_EQ(parse("\x80\x02K\x05" + put_last + "0j" + put_last.substr(1) + ".").root().integer, 5);
  expect_error(b({0x80, 2, 'N', 'r', 0, 0, 0x10, 0, '.'}), "memo index 1048576 is out of range");
  expect_error("Np-1\n.", "bad PUT index '-1'");
  expect_error("Np+1\n.", "bad PUT index '+1'");
  expect_error("Np0\ng-0\n.", "bad GET index '-0'");
}

TEST(TorchPickle, ValueCountContainerLengthAndIntegerSizeAreBounded) {
  using L = io::PickleLimits;
  // Each "N0" makes a value and drops it: the stack stays small, the value count does not.
  std::string many = "\x80\x02";
  for (size_t i = 0; i <= L::kMaxValues; ++i) many += "N0";
  expect_error(many + "N.", "more than 1048576 values");
  // One value GET from the memo kMaxItems / 2 + 1 times, twice into one list: no new values,
  // but the list would grow past kMaxItems.
  std::string gets;
  for (size_t i = 0; i < L::kMaxItems / 2 + 1; ++i) gets += "h\x00"s;
  expect_error(b({0x80, 2, ']', 'N', 'q', 0, '0', '('}) + gets + "e(" + gets + "e.",
               "a list of 1048578 items (the limit is 1048576)");
  // Integers: 64 bytes pass (a big int), 65 are refused before their bytes are read.
  EXPECT_TRUE(parse("\x80\x02\x8a\x40" + std::string(64, '\x01') + ".").root().is(K::BigInt));
  expect_error("\x80\x02\x8a\x41", "an integer of 65 bytes (the limit is 64");
}

TEST(TorchPickle, NewobjInstAndObjOnlyInstantiateClasses) {
  // torch._utils._rebuild_tensor_v2 is whitelisted for REDUCE; cls.__new__ of it is refused.
  expect_error("\x80\x02\x63torch._utils\n_rebuild_tensor_v2\n)\x81.",
               "NEWOBJ/INST/OBJ of torch._utils._rebuild_tensor_v2, which is a function");
  expect_error("(itorch._utils\n_rebuild_parameter\n.",
               "NEWOBJ/INST/OBJ of torch._utils._rebuild_parameter, which is a function");
  expect_error("\x80\x01(\x63torch._utils\n_rebuild_tensor\no.",
               "NEWOBJ/INST/OBJ of torch._utils._rebuild_tensor, which is a function");
  // Classes are fine: OrderedDict() becomes a dict, torch.FloatTensor a Call.
  EXPECT_TRUE(parse("\x80\x02\x63\x63ollections\nOrderedDict\n)\x81.").root().is(K::Dict));
  EXPECT_TRUE(parse("(itorch\nFloatTensor\n.").root().new_object);
}

TEST(TorchPickle, EveryTruncationOfARealPickleIsAnError) {
  const std::string bytes =
      "\x80\x02\x63\x63ollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00w"s
      "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"s
      "X\x01\x00\x00\x00"s
      "0X\x03\x00\x00\x00\x63puK\x02tQK\x00K\x02\x85K\x01\x85\x89h\x00)Rtq\x02Ru."s;
  const std::string& full = bytes;
  EXPECT_NO_THROW(parse(full));
  for (size_t len = 0; len < full.size(); ++len)
    EXPECT_THROW(parse(full.substr(0, len)), Error) << "length " << len;
}

TEST(TorchPickle, WhitelistNamesTorchStorageAndTensorClasses) {
  EXPECT_EQ(io::torch_scalar_of_global("torch.FloatStorage"), io::TorchScalar::Float);
  EXPECT_EQ(io::torch_scalar_of_global("torch.BFloat16Storage"), io::TorchScalar::BFloat16);
  EXPECT_EQ(io::torch_scalar_of_global("torch.LongTensor"), io::TorchScalar::Long);
  EXPECT_EQ(io::torch_scalar_of_global("torch.BoolStorage"), io::TorchScalar::Bool);
  EXPECT_FALSE(io::torch_scalar_of_global("torch.FloatStorageX"));
  EXPECT_FALSE(io::torch_scalar_of_global("torch.Storage"));
  EXPECT_FALSE(io::torch_scalar_of_global("os.FloatStorage"));
  EXPECT_EQ(io::element_size(io::TorchScalar::Half), 2u);
  EXPECT_EQ(io::element_size(io::TorchScalar::Double), 8u);
  EXPECT_STREQ(io::torch_storage_name(io::TorchScalar::Long), "LongStorage");
}

TEST(TorchPickle, WriterIntegersMatchPython) {
  // pickle.dumps(v, protocol=2)[2:-1] for each v.
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {7, b({'K', 7})},
      {255, b({'K', 0xff})},
      {300, b({'M', 0x2c, 0x01})},
      {65535, b({'M', 0xff, 0xff})},
      {65536, b({'J', 0, 0, 1, 0})},
      {-1, b({'J', 0xff, 0xff, 0xff, 0xff})},
      {-129, b({'J', 0x7f, 0xff, 0xff, 0xff})},
      {int64_t(1) << 31, b({0x8a, 5, 0, 0, 0, 0x80, 0})},
      {-(int64_t(1) << 31) - 1, b({0x8a, 5, 0xff, 0xff, 0xff, 0x7f, 0xff})},
      {int64_t(1) << 39, b({0x8a, 6, 0, 0, 0, 0, 0x80, 0})},
      {INT64_MAX, b({0x8a, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})},
      {INT64_MIN, b({0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80})}};
  for (const auto& [v, want] : cases) {
    io::PickleWriter w;
    w.integer(v);
    EXPECT_EQ(w.bytes().substr(2), want) << v;
    w.stop();
    EXPECT_EQ(parse(w.bytes()).root().integer, v);
  }
}

TEST(TorchPickle, WriterOutputParsesBack) {
  io::PickleWriter w;
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.mark();
  for (const char* key : {"a", "b"}) {
    w.string(key);
    w.global("torch._utils", "_rebuild_tensor_v2");  // memoized: BINGET the second time
    w.mark();
    w.int_tuple({2, 3, 4, 5});
    w.int_tuple({});
    w.int_tuple({1});
    w.boolean(true);
    w.none();
    w.tuple_from_mark();
    w.reduce();
  }
  w.setitems();
  w.stop();
  const std::string& out = w.bytes();
  EXPECT_EQ(out.find("_rebuild_tensor_v2"), out.rfind("_rebuild_tensor_v2")) << "memoized";
  const auto p = parse(w.bytes());
  ASSERT_EQ(p.root().entries.size(), 2u);
  const auto* a = p.root().get("b");
  ASSERT_TRUE(a && a->is(K::Call));
  EXPECT_EQ(a->text, "torch._utils._rebuild_tensor_v2");
  ASSERT_EQ(a->items.size(), 5u);
  EXPECT_EQ(a->items[0]->items.size(), 4u);
  EXPECT_EQ(a->items[0]->items[3]->integer, 5);
  EXPECT_TRUE(a->items[1]->items.empty());
  EXPECT_TRUE(a->items[3]->boolean);
  EXPECT_TRUE(a->items[4]->is(K::None));
}

}  // namespace
}  // namespace afinar
