// Module mechanics: registration order and names (PyTorch's), state_dict / load_state_dict
// (strict and not), train/eval, to(), submodules and surgery, repr, forward hooks.
// Expected orders and texts are PyTorch's, written out by hand from torch 1.13's behaviour.
#include <gtest/gtest.h>

#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/layers.h"
#include "afinar/nn/resnet.h"
#include "testing/compare.h"
#include "testing/cuda.h"

namespace afinar::nn {
namespace {

// A module mixing registration kinds and orders: `head` is registered before the parameter
// `scale`, yet PyTorch lists a module's own tensors before its children's.
struct Net : Module {
  Net() : Module("Net") {
    register_module("head", std::make_shared<Linear>(2, 3));
    register_parameter("scale", ones({1}));
    register_buffer("count", zeros({}));
    register_module(
        "body", make_sequential(std::make_shared<BatchNorm2d>(2), std::make_shared<Linear>(2, 2)));
  }
  Tensor forward(const Tensor& x) override { return child("head")(x); }
};

std::vector<std::string> names_of(const NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

template <typename T>
std::vector<std::string> first_of(const std::vector<std::pair<std::string, T>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, v] : named) out.push_back(name);
  return out;
}

// Runs `fn`, expects an afinar::Error whose message contains every one of `parts`.
template <typename Fn>
void expect_error_containing(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nlacks: " << p;
  }
}

TEST(Module, StateDictOrderIsPyTorchs) {
  auto net = std::make_shared<Net>();
  // torch: Net().state_dict().keys() for the same registrations.
  const std::vector<std::string> expected = {"scale",
                                             "count",
                                             "head.weight",
                                             "head.bias",
                                             "body.0.weight",
                                             "body.0.bias",
                                             "body.0.running_mean",
                                             "body.0.running_var",
                                             "body.0.num_batches_tracked",
                                             "body.1.weight",
                                             "body.1.bias"};
  EXPECT_EQ(net->state_dict().keys(), expected);
  EXPECT_EQ(names_of(net->named_parameters()),
            (std::vector<std::string>{"scale", "head.weight", "head.bias", "body.0.weight",
                                      "body.0.bias", "body.1.weight", "body.1.bias"}));
  EXPECT_EQ(names_of(net->named_buffers()),
            (std::vector<std::string>{"count", "body.0.running_mean", "body.0.running_var",
                                      "body.0.num_batches_tracked"}));
  EXPECT_EQ(names_of(net->named_parameters(false)), std::vector<std::string>{"scale"});
  EXPECT_EQ(first_of(net->named_modules()),
            (std::vector<std::string>{"", "head", "body", "body.0", "body.1"}));
  EXPECT_EQ(first_of(net->named_children()), (std::vector<std::string>{"head", "body"}));
  EXPECT_EQ(net->children().size(), 2u);
  EXPECT_EQ(net->parameters().size(), 7u);
  EXPECT_EQ(net->state_dict().at("body.0.num_batches_tracked").dtype(), DType::I64);
}

TEST(Module, ParametersAreTheModulesOwnTensors) {
  auto lin = std::make_shared<Linear>(4, 2);
  auto params = lin->named_parameters();
  EXPECT_TRUE(params[0].second.is_same(lin->weight()));
  EXPECT_TRUE(params[0].second.requires_grad());
  EXPECT_TRUE(params[0].second.is_leaf());
  // state_dict entries share storage but carry no autograd.
  const StateDict sd = lin->state_dict();
  EXPECT_FALSE(sd.at("weight").requires_grad());
  EXPECT_EQ(sd.at("weight").raw_data(), lin->weight().raw_data());
}

TEST(Module, RegistrationRejectsBadNames) {
  struct Bad : Module {
    Bad() : Module("Bad") {}
    Tensor forward(const Tensor& x) override { return x; }
  };
  Bad m;
  m.register_parameter("w", zeros({2}));
  EXPECT_THROW(m.register_parameter("w", zeros({2})), Error);  // taken by a parameter
  EXPECT_THROW(m.register_buffer("w", zeros({2})), Error);
  EXPECT_THROW(m.register_module("w", std::make_shared<Identity>()), Error);
  EXPECT_THROW(m.register_parameter("a.b", zeros({2})), Error);  // dots separate levels
  EXPECT_THROW(m.register_parameter("", zeros({2})), Error);
  EXPECT_THROW(m.register_parameter("i", zeros({2}, DType::I64)), Error);  // not floating
  EXPECT_THROW(m.register_module("none", ModulePtr()), Error);
}

TEST(Module, SharedModuleListedOnceButSavedUnderEachName) {
  struct Tied : Module {
    Tied() : Module("Tied") {
      auto shared = std::make_shared<Linear>(2, 2);
      register_module("a", shared);
      register_module("b", shared);
    }
    Tensor forward(const Tensor& x) override { return x; }
  };
  auto m = std::make_shared<Tied>();
  // PyTorch: named_parameters / named_modules skip duplicates, state_dict keeps both names.
  EXPECT_EQ(names_of(m->named_parameters()), (std::vector<std::string>{"a.weight", "a.bias"}));
  EXPECT_EQ(first_of(m->named_modules()), (std::vector<std::string>{"", "a"}));
  EXPECT_EQ(m->state_dict().keys(),
            (std::vector<std::string>{"a.weight", "a.bias", "b.weight", "b.bias"}));
}

TEST(Module, LoadStateDictCopiesInPlaceAndConverts) {
  auto src = std::make_shared<Net>();
  auto dst = std::make_shared<Net>();
  const Tensor handle = dst->get_submodule_as<Linear>("head")->weight();
  StateDict sd;
  for (const auto& [key, t] : src->state_dict())
    sd.insert(key, t.dtype() == DType::F32 ? t.to(DType::F64) : t);  // the file's dtype
  const auto result = dst->load_state_dict(sd);
  EXPECT_TRUE(result.ok()) << result.str();
  const Tensor after = dst->get_submodule_as<Linear>("head")->weight();
  EXPECT_TRUE(after.is_same(handle));  // same handle, values copied in
  EXPECT_EQ(after.dtype(), DType::F32);
  EXPECT_TRUE(after.requires_grad());
  EXPECT_EQ(after.to_vector<float>(),
            src->get_submodule_as<Linear>("head")->weight().to_vector<float>());
}

TEST(Module, StrictLoadListsEveryProblemAndLoadsNothing) {
  auto model = std::make_shared<Net>();
  const auto before = model->state_dict().at("head.bias").to_vector<float>();
  StateDict sd;
  for (const auto& [key, t] : model->state_dict()) {
    if (key == "body.1.bias") continue;                      // missing
    sd.insert(key, key == "body.1.weight" ? zeros({3, 2}) :  // shape mismatch
                       key == "head.bias" ? full({3}, 7.0)
                                          : t.clone());
  }
  sd.insert("tail.weight", zeros({1}));  // unexpected
  expect_error_containing(
      [&] { model->load_state_dict(sd); },
      {"nothing was loaded", "1 missing key: body.1.bias", "1 unexpected key: tail.weight",
       "1 shape mismatch: body.1.weight (model [2, 2], state_dict [3, 2])"});
  EXPECT_EQ(model->state_dict().at("head.bias").to_vector<float>(), before);
}

TEST(Module, NonStrictLoadReturnsProblemsAndLoadsTheRest) {
  auto model = std::make_shared<Net>();
  StateDict sd;
  sd.insert("head.bias", full({3}, 7.0));
  sd.insert("body.1.weight", zeros({3, 2}));
  sd.insert("extra", zeros({1}));
  const auto r = model->load_state_dict(sd, false);
  EXPECT_EQ(r.unexpected_keys, std::vector<std::string>{"extra"});
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_EQ(r.mismatched[0].key, "body.1.weight");
  EXPECT_EQ(r.mismatched[0].expected, (Shape{2, 2}));
  EXPECT_EQ(r.mismatched[0].got, (Shape{3, 2}));
  EXPECT_EQ(r.missing_keys.size(), 11u - 2u);  // all but head.bias and body.1.weight
  EXPECT_EQ(model->state_dict().at("head.bias").to_vector<float>(), (std::vector<float>{7, 7, 7}));
  EXPECT_NE(model->state_dict().at("body.1.weight").to_vector<float>(),
            (std::vector<float>{0, 0, 0, 0}));  // mismatched: left alone
}

TEST(Module, TrainEvalRecurse) {
  auto model = resnet18();
  EXPECT_TRUE(model->is_training());
  model->eval();
  for (auto& [name, m] : model->named_modules()) EXPECT_FALSE(m->is_training()) << name;
  model->get_submodule("layer2")->train();
  EXPECT_TRUE(model->get_submodule("layer2.1.bn2")->is_training());
  EXPECT_FALSE(model->get_submodule("layer3.1.bn2")->is_training());
  model->train();
  for (auto& [name, m] : model->named_modules()) EXPECT_TRUE(m->is_training()) << name;
}

TEST(Module, ToCpuIsANoOp) {
  auto model = std::make_shared<Net>();
  const auto before = model->parameters();
  std::vector<const void*> data;
  for (const auto& p : before) data.push_back(p.raw_data());
  model->to(kCPU);
  const auto after = model->parameters();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(after[i].is_same(before[i]));
    EXPECT_EQ(after[i].raw_data(), data[i]);
    EXPECT_TRUE(after[i].is_leaf());
    EXPECT_TRUE(after[i].requires_grad());
  }
}

TEST(ModuleCuda, ToMovesEveryTensorInPlaceAndBack) {
  AFN_REQUIRE_CUDA();
  auto model = resnet18(3);
  model->get_submodule_as<Linear>("fc")->weight().set_requires_grad(false);
  const auto params = model->parameters();
  const auto cpu_values = model->state_dict().at("layer1.0.conv1.weight").to_vector<float>();
  model->to(testing::kCuda0);
  const auto moved = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(moved[i].is_same(params[i]));  // same handles: an optimizer keeps working
    EXPECT_EQ(moved[i].device(), testing::kCuda0);
    EXPECT_TRUE(moved[i].is_leaf());
  }
  for (const auto& [name, b] : model->named_buffers()) EXPECT_EQ(b.device(), testing::kCuda0);
  EXPECT_FALSE(model->get_submodule_as<Linear>("fc")->weight().requires_grad());
  EXPECT_TRUE(model->get_submodule_as<Conv2d>("conv1")->weight().requires_grad());
  model->eval();
  {
    NoGradGuard no_grad;
    EXPECT_EQ((*model)(randn({2, 3, 64, 64}).to(testing::kCuda0)).device(), testing::kCuda0);
  }
  model->to(kCPU);
  EXPECT_EQ(model->state_dict().at("layer1.0.conv1.weight").to_vector<float>(), cpu_values);
}

TEST(Module, GetSubmoduleAndReplace) {
  auto model = resnet18();
  EXPECT_EQ(model->get_submodule("layer1.0")->type_name(), "BasicBlock");
  EXPECT_EQ(model->get_submodule("layer2.0.downsample.1")->type_name(), "BatchNorm2d");
  EXPECT_EQ(model->get_submodule("").get(), model.get());
  expect_error_containing([&] { model->get_submodule("layer1.7"); },
                          {"layer1 (Sequential) has no child '7'", "0, 1"});
  expect_error_containing([&] { model->get_submodule("head"); }, {"no child 'head'", "fc"});

  auto fc = std::make_shared<Linear>(512, 3);
  model->replace_module("fc", fc);
  EXPECT_EQ(model->get_submodule("fc"), fc);
  EXPECT_EQ(model->state_dict().at("fc.weight").shape(), (Shape{3, 512}));
  auto id = std::make_shared<Identity>();
  model->replace_module("layer4.1.relu", id);
  EXPECT_EQ(model->get_submodule("layer4.1.relu"), id);
  expect_error_containing([&] { model->replace_module("layer4.9", id); }, {"no child '9'"});
  expect_error_containing([&] { model->replace_module("classifier", id); },
                          {"no child 'classifier'"});
  EXPECT_THROW(model->get_submodule_as<Conv2d>("fc"), Error);
}

TEST(Module, ReprIsPyTorchs) {
  auto net = std::make_shared<Net>();
  // print(Net()) in PyTorch (parameters and buffers are not printed, only modules).
  EXPECT_EQ(net->repr(),
            "Net(\n"
            "  (head): Linear(in_features=2, out_features=3, bias=True)\n"
            "  (body): Sequential(\n"
            "    (0): BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, "
            "track_running_stats=True)\n"
            "    (1): Linear(in_features=2, out_features=2, bias=True)\n"
            "  )\n"
            ")");
  std::ostringstream os;
  os << Sequential();
  EXPECT_EQ(os.str(), "Sequential()");
}

TEST(Module, PyReprOfFloatsIsPythons) {
  // Python: repr(1e-5), repr(0.1), repr(1e-4), repr(0.5), repr(2.5e-7), repr(1.0), repr(1e16).
  EXPECT_EQ(py_repr(1e-5), "1e-05");
  EXPECT_EQ(py_repr(0.1), "0.1");
  EXPECT_EQ(py_repr(1e-4), "0.0001");
  EXPECT_EQ(py_repr(0.5), "0.5");
  EXPECT_EQ(py_repr(2.5e-7), "2.5e-07");
  EXPECT_EQ(py_repr(1.0), "1.0");
  EXPECT_EQ(py_repr(1e16), "1e+16");
  EXPECT_EQ(py_repr(123456789012345.0), "123456789012345.0");
  EXPECT_STREQ(py_repr(true), "True");
}

TEST(Module, ForwardHookSeesEveryCallInCompletionOrder) {
  auto net = make_sequential(std::make_shared<Linear>(4, 3), std::make_shared<ReLU>(),
                             std::make_shared<Linear>(3, 2));
  std::vector<std::string> seen;
  {
    ScopedForwardHook outer([&](Module&, const Tensor&, const Tensor&) { seen.push_back("x"); });
    {
      ScopedForwardHook hook([&](Module& m, const Tensor& in, const Tensor& out) {
        seen.push_back(m.type_name() + shape_str(in.shape()) + shape_str(out.shape()));
      });
      (*net)(zeros({5, 4}));
    }
    (*net)(zeros({5, 4}));  // the outer hook is active again
  }
  (*net)(zeros({5, 4}));  // none
  EXPECT_EQ(seen, (std::vector<std::string>{"Linear[5, 4][5, 3]", "ReLU[5, 3][5, 3]",
                                            "Linear[5, 3][5, 2]", "Sequential[5, 4][5, 2]", "x",
                                            "x", "x", "x"}));
}

}  // namespace
}  // namespace afinar::nn
