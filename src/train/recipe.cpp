// Recipes with toml++ (Debian's libtomlplusplus-dev). Each table is read by a
// function that takes the keys it knows and then refuses whatever is left.
#include "afinar/train/recipe.h"

#include <toml++/toml.h>
#include <fstream>
#include <set>
#include <sstream>

#include "afinar/core/check.h"

namespace afinar::train {

namespace {

// A table being read: every key taken is remembered, finish() refuses the others.
class Reader {
 public:
  Reader(const toml::table& t, std::string where) : t_(t), where_(std::move(where)) {}

  template <typename T>
  void get(const char* key, T& out) {
    const toml::node* n = take(key);
    if (!n) return;
    if constexpr (std::is_same_v<T, bool>) {
      out = require(n->value<bool>(), key, "true or false");
    } else if constexpr (std::is_integral_v<T>) {
      out = T(require(n->value<int64_t>(), key, "an integer"));
    } else if constexpr (std::is_floating_point_v<T>) {
      out = require(n->value<double>(), key, "a number");
    } else if constexpr (std::is_same_v<T, std::string>) {
      out = require(n->value<std::string>(), key, "a string");
    } else {  // std::vector<std::string> or std::vector<int64_t>
      const toml::array* a = n->as_array();
      AFN_CHECK(a, where_, ": '", key, "' must be an array");
      out.clear();
      for (const toml::node& e : *a)
        out.push_back(require(e.value<typename T::value_type>(), key, "an array of one type"));
    }
  }

  const toml::node* take(const std::string& key) {
    taken_.insert(key);
    return t_.get(key);
  }
  const toml::table& table() const { return t_; }
  const std::string& where() const { return where_; }

  void finish() const {
    for (const auto& [key, node] : t_)
      AFN_CHECK(taken_.count(std::string(key.str())), where_, ": unknown key '", key.str(), "'");
  }

 private:
  template <typename V>
  V require(std::optional<V> v, const char* key, const char* what) const {
    AFN_CHECK(v.has_value(), where_, ": '", key, "' must be ", what);
    return *v;
  }
  const toml::table& t_;
  std::string where_;
  std::set<std::string> taken_;
};

const toml::table* subtable(Reader& r, const char* key) {
  const toml::node* n = r.take(key);
  if (!n) return nullptr;
  const toml::table* t = n->as_table();
  AFN_CHECK(t, r.where(), ": '", key, "' must be a table");
  return t;
}

// Every numeric or boolean key except those in `skip` as an option (betas -> beta1, beta2).
optim::Options options_of(const toml::table& t, const std::string& where,
                          const std::set<std::string>& skip) {
  optim::Options o;
  for (const auto& [k, node] : t) {
    const std::string key(k.str());
    if (skip.count(key)) continue;
    if (key == "betas") {
      const toml::array* a = node.as_array();
      AFN_CHECK(a && a->size() == 2 && (*a)[0].value<double>() && (*a)[1].value<double>(), where,
                ": 'betas' must be two numbers");
      o["beta1"] = *(*a)[0].value<double>();
      o["beta2"] = *(*a)[1].value<double>();
    } else if (auto b = node.value_exact<bool>()) {
      o[key] = *b ? 1.0 : 0.0;
    } else if (auto d = node.value<double>()) {
      o[key] = *d;
    } else {
      AFN_FAIL(where, ": '", key, "' must be a number or true / false");
    }
  }
  return o;
}

// [model] head = "mlp" or { kind = "mlp", hidden = 512, dropout = [0.5, 0.3] }.
nn::HeadSpec read_head(const toml::node& n, const std::string& where) {
  nn::HeadSpec h;
  if (auto kind = n.value<std::string>()) {
    h.kind = *kind;
  } else {
    const toml::table* t = n.as_table();
    AFN_CHECK(t, where,
              ": 'head' must be a kind (\"default\", \"linear\", \"mlp\") or a table "
              "such as { kind = \"mlp\", hidden = 512, dropout = [0.5, 0.3] }");
    Reader hr(*t, where + " head");
    hr.get("kind", h.kind);
    AFN_CHECK(h.kind == "mlp" || (!t->contains("hidden") && !t->contains("dropout")), hr.where(),
              ": 'hidden' and 'dropout' are settings of the mlp head, not of '", h.kind, "'");
    hr.get("hidden", h.hidden);
    if (const toml::node* d = hr.take("dropout")) {
      const toml::array* a = d->as_array();
      AFN_CHECK(a && a->size() == 2 && (*a)[0].value<double>() && (*a)[1].value<double>(),
                hr.where(),
                ": 'dropout' must be two numbers [before the hidden Linear, before "
                "the output Linear], e.g. [0.5, 0.3]");
      h.dropout = {*(*a)[0].value<double>(), *(*a)[1].value<double>()};
    }
    hr.finish();
  }
  try {
    nn::check_head(h);
  } catch (const Error& e) {
    AFN_FAIL(where, ": ", e.what());
  }
  return h;
}

// unfreeze_schedule = [ { epoch = 2, unfreeze = ["layer4.*"] }, ... ]
std::vector<UnfreezeStep> read_unfreeze_schedule(const toml::node& n, const std::string& where) {
  const toml::array* a = n.as_array();
  AFN_CHECK(a, where,
            ": 'unfreeze_schedule' must be an array of tables such as "
            "{ epoch = 2, unfreeze = [\"layer4.*\"] }");
  std::vector<UnfreezeStep> out;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string w = where + ".unfreeze_schedule[" + std::to_string(i) + "]";
    const toml::table* t = (*a)[i].as_table();
    AFN_CHECK(t, w, ": must be a table such as { epoch = 2, unfreeze = [\"layer4.*\"] }");
    AFN_CHECK(t->contains("epoch") && t->contains("unfreeze"), w,
              ": needs 'epoch' (counted from the stage's start, 0 = its first) and 'unfreeze'");
    Reader r(*t, w);
    UnfreezeStep u;
    r.get("epoch", u.epoch);
    r.get("unfreeze", u.unfreeze);
    AFN_CHECK(!u.unfreeze.empty(), w, ": 'unfreeze' must list at least one pattern");
    r.finish();
    out.push_back(std::move(u));
  }
  return out;
}

StageConfig read_stage(const toml::table& t, const std::string& where) {
  Reader r(t, where);
  StageConfig s;
  r.get("epochs", s.epochs);
  r.get("freeze", s.freeze);
  r.get("unfreeze", s.unfreeze);
  if (const toml::node* u = r.take("unfreeze_schedule"))
    s.unfreeze_schedule = read_unfreeze_schedule(*u, where);
  if (r.table().contains("lr_decay")) {
    double decay = 0;
    r.get("lr_decay", decay);
    AFN_CHECK(decay > 0, where,
              ": 'lr_decay' must be > 0 (each layer's lr is the next one's "
              "divided by it; ULMFiT uses 2.6), got ",
              decay);
    s.lr_decay = decay;
  }
  if (const toml::table* o = subtable(r, "optimizer")) {
    Reader opt(*o, where + ".optimizer");
    opt.get("name", s.optimizer.name);
    s.optimizer.options = options_of(*o, opt.where(), {"name"});
  }
  if (const toml::table* sc = subtable(r, "scheduler")) {
    Reader sr(*sc, where + ".scheduler");
    sr.get("name", s.scheduler.name);
    sr.get("milestones", s.scheduler.milestones);
    sr.get("warmup_epochs", s.scheduler.warmup_epochs);
    s.scheduler.args = options_of(*sc, sr.where(), {"name", "milestones", "warmup_epochs"});
  }
  if (const toml::node* g = r.take("param_groups")) {
    const toml::array* a = g->as_array();
    AFN_CHECK(a, where, ": 'param_groups' must be an array of tables");
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::table* gt = (*a)[i].as_table();
      const std::string gw = where + ".param_groups[" + std::to_string(i) + "]";
      AFN_CHECK(gt, gw, ": must be a table such as { params = [\"fc.*\"], lr = 1e-3 }");
      Reader gr(*gt, gw);
      GroupConfig group;
      gr.get("params", group.params);
      AFN_CHECK(!group.params.empty(), gw, ": 'params' must list at least one pattern");
      group.options = options_of(*gt, gw, {"params"});
      s.param_groups.push_back(std::move(group));
    }
  }
  r.finish();
  return s;
}

}  // namespace

TrainConfig parse_recipe(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    AFN_FAIL(source, ":", where.line, ":", where.column, ": ", e.description());
  }
  TrainConfig c;
  Reader r(root, source);
  r.get("output", c.output);
  r.get("seed", c.seed);
  r.get("device", c.device);
  r.get("smoothing", c.smoothing);
  r.get("patience", c.patience);
  r.get("max_steps", c.max_steps);
  r.get("tta", c.tta);
  r.get("log_interval", c.log_interval);
  if (const toml::table* m = subtable(r, "model")) {
    Reader mr(*m, source + " [model]");
    mr.get("name", c.model);
    mr.get("weights", c.weights);
    mr.get("weights_exclude", c.weights_exclude);
    mr.get("num_classes", c.num_classes);
    if (const toml::node* h = mr.take("head")) c.head = read_head(*h, mr.where());
    mr.finish();
  }
  if (const toml::table* d = subtable(r, "data")) {
    Reader dr(*d, source + " [data]");
    dr.get("dir", c.data_dir);
    dr.get("val_split", c.val_split);
    dr.get("test_split", c.test_split);
    dr.get("image_size", c.image_size);
    dr.get("batch_size", c.batch_size);
    dr.get("workers", c.workers);
    dr.get("augment", c.augment);
    dr.get("shuffle", c.shuffle);
    dr.finish();
  }
  if (const toml::node* st = r.take("stage")) {
    const toml::array* a = st->as_array();
    AFN_CHECK(a && !a->empty(), source, ": 'stage' must be one or more [[stage]] tables");
    c.stages.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string where = source + " [[stage]] " + std::to_string(i + 1);
      const toml::table* t = (*a)[i].as_table();
      AFN_CHECK(t, where, ": must be a table");
      c.stages.push_back(read_stage(*t, where));
    }
  }
  r.finish();
  return c;
}

TrainConfig load_recipe(const std::string& path) {
  std::ifstream in(path);
  AFN_CHECK(in, "cannot read the recipe ", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_recipe(text.str(), path);
}

namespace {

toml::array strings(const std::vector<std::string>& v) {
  toml::array a;
  for (const auto& s : v) a.push_back(s);
  return a;
}

void put_options(toml::table& t, const optim::Options& o) {
  for (const auto& [k, v] : o) t.insert_or_assign(k, v);
}

toml::table head_table(const nn::HeadSpec& h) {
  toml::table t{{"kind", h.kind}};
  if (h.kind == "mlp") {
    t.insert("hidden", h.hidden);
    t.insert("dropout", toml::array{h.dropout[0], h.dropout[1]});
  }
  return t;
}

}  // namespace

std::string to_toml(const TrainConfig& c) {
  toml::table root;
  root.insert("output", c.output);
  root.insert("seed", int64_t(c.seed));
  root.insert("device", c.device);
  root.insert("smoothing", c.smoothing);
  root.insert("patience", c.patience);
  root.insert("max_steps", c.max_steps);
  root.insert("tta", c.tta);
  root.insert("log_interval", c.log_interval);
  root.insert("model", toml::table{{"name", c.model},
                                   {"weights", c.weights},
                                   {"weights_exclude", strings(c.weights_exclude)},
                                   {"num_classes", c.num_classes},
                                   {"head", head_table(c.head)}});
  root.insert("data", toml::table{{"dir", c.data_dir},
                                  {"val_split", c.val_split},
                                  {"test_split", c.test_split},
                                  {"image_size", c.image_size},
                                  {"batch_size", c.batch_size},
                                  {"workers", int64_t(c.workers)},
                                  {"augment", c.augment},
                                  {"shuffle", c.shuffle}});
  toml::array stages;
  for (const StageConfig& s : c.stages) {
    toml::table opt{{"name", s.optimizer.name}};
    put_options(opt, s.optimizer.options);
    toml::array milestones;
    for (int64_t m : s.scheduler.milestones) milestones.push_back(m);
    toml::table sched{{"name", s.scheduler.name},
                      {"milestones", milestones},
                      {"warmup_epochs", s.scheduler.warmup_epochs}};
    put_options(sched, s.scheduler.args);
    toml::array groups;
    for (const GroupConfig& g : s.param_groups) {
      toml::table gt{{"params", strings(g.params)}};
      put_options(gt, g.options);
      groups.push_back(gt);
    }
    toml::array schedule;
    for (const UnfreezeStep& u : s.unfreeze_schedule)
      schedule.push_back(toml::table{{"epoch", u.epoch}, {"unfreeze", strings(u.unfreeze)}});
    toml::table stage{{"epochs", s.epochs},
                      {"freeze", strings(s.freeze)},
                      {"unfreeze", strings(s.unfreeze)},
                      {"unfreeze_schedule", schedule},
                      {"optimizer", opt},
                      {"scheduler", sched},
                      {"param_groups", groups}};
    if (s.lr_decay) stage.insert("lr_decay", *s.lr_decay);
    stages.push_back(std::move(stage));
  }
  root.insert("stage", stages);
  std::ostringstream out;
  out << root << "\n";
  return out.str();
}

}  // namespace afinar::train
