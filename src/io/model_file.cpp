#include "afinar/io/model_file.h"

#include "afinar/core/check.h"
#include "afinar/nn/init.h"
#include "afinar/nn/models.h"

namespace afinar::io {

nn::ModulePtr load_model(const Weights& w, const std::string& arch_override) {
  const std::string arch = arch_override.empty() ? w.meta.arch : arch_override;
  AFN_CHECK(nn::is_model_name(arch), "unknown architecture '", arch,
            "' (the weights file's arch attribute, or --arch)");
  nn::ModulePtr model = [&] {
    nn::init::SkipInitGuard loaded_next;  // every tensor is replaced at once: draw nothing
    return nn::create_model(arch, w.meta.num_classes, w.meta.head);
  }();
  model->load_state_dict(w.state_dict, /*strict=*/true);
  return model;
}

}  // namespace afinar::io
