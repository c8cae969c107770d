// afinar: training, evaluation, import/export and inspection from one executable.
//   afinar --help            the commands
//   afinar COMMAND --help    one command's options
// Every failure is reported once as "afinar: error: ..." with exit code 1; usage errors (a wrong
// or missing flag) exit with 2 after CLI11 prints what was wrong.
#include <cstdio>
#include <exception>

#include "afinar/core/check.h"
#include "command.h"
#include "version.h"

namespace afinar::cli {

std::vector<CommandFactory>& command_registry() {
  static std::vector<CommandFactory> registry;
  return registry;
}

}  // namespace afinar::cli

int main(int argc, char** argv) {
  using namespace afinar::cli;
  CLI::App app{"afinar: fine-tune image classifiers (VGG, ResNet) on the CPU or a CUDA GPU"};
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);

  std::vector<std::unique_ptr<Command>> commands;
  for (const auto& make : command_registry()) {
    commands.push_back(make());
    Command* command = commands.back().get();
    CLI::App* sub = app.add_subcommand(command->name(), command->description());
    command->setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the message, or the help / version (code 0)
    return code == 0 ? 0 : 2;      // usage errors exit 2; runtime errors (below) 1
  }
  try {
    for (auto& command : commands)
      if (app.got_subcommand(command->name())) return command->run();
  } catch (const afinar::Error& e) {
    std::fprintf(stderr, "afinar: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "afinar: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
