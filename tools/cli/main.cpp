// afinar: training, evaluation, import/export and inspection from one executable.
//   afinar --help            the commands
//   afinar COMMAND --help    one command's options
// Every failure is reported as one line, "afinar: error: <what is wrong and what to do>", with
// exit code 1 (AFINAR_DEBUG=1 adds the failed check and its source location); usage errors (a
// wrong or missing flag) exit with 2 after CLI11 has printed what was wrong.
#include <cstdio>
#include <exception>
#include <string_view>

#include "afinar/core/check.h"
#include "command.h"
#include "version.h"

namespace afinar::cli {

std::vector<CommandFactory>& command_registry() {
  static std::vector<CommandFactory> registry;
  return registry;
}

namespace {

void print_error(std::string_view what) {
  what = user_message(what);
  std::fprintf(stderr, "afinar: error: %.*s\n", int(what.size()), what.data());
}

}  // namespace

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
  } catch (const std::exception& e) {  // afinar::Error and the rest
    print_error(e.what());
    return 1;
  }
  return 0;
}
