#include "testing/fixtures.h"

namespace afinar::testing {

std::vector<int64_t> GoldenCase::attr_ints(const std::string& key) const {
  std::vector<int64_t> out;
  for (double v : file->read_attr_doubles("/" + name, key)) out.push_back(int64_t(v));
  return out;
}

std::string test_data_path(const std::string& relative) {
  return std::string(AFINAR_TEST_DATA_DIR) + "/" + relative;
}

std::vector<GoldenCase> load_goldens(const std::string& op) {
  auto file =
      std::make_shared<hdf5::File>(hdf5::File::open(test_data_path("goldens/" + op + ".h5")));
  std::vector<GoldenCase> cases;
  for (const auto& name : file->list("/")) cases.push_back({name, file});
  AFN_CHECK(!cases.empty(), "goldens/", op, ".h5 has no cases");
  return cases;
}

}  // namespace afinar::testing
