// The afinar command line: one file per subcommand under tools/cli/commands/, each registering
// itself with AFN_CLI_COMMAND. main.cpp builds the CLI11 app from the registry, so adding a
// command touches no central file.
//
//   // tools/cli/commands/devices.cpp
//   struct DevicesCommand : Command { ... };
//   AFN_CLI_COMMAND(DevicesCommand);
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace afinar::cli {

class Command {
 public:
  virtual ~Command() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  // Declares the command's options on its CLI11 subcommand (bound to members).
  virtual void setup(CLI::App& app) = 0;
  // Runs after parsing; returns the process exit code. Errors throw afinar::Error.
  virtual int run() = 0;
};

// What a user is shown of an error: afinar::Error's text is the message, then
// "\n  check failed: <expr>" (AFN_CHECK) and "\n  at <file>:<line>"; the user gets the message,
// a developer who sets AFINAR_DEBUG=1 all of it.
inline std::string_view user_message(std::string_view what) {
  if (std::getenv("AFINAR_DEBUG")) return what;
  return what.substr(0, std::min(what.find("\n  check failed: "), what.rfind("\n  at ")));
}

using CommandFactory = std::function<std::unique_ptr<Command>()>;
std::vector<CommandFactory>& command_registry();

}  // namespace afinar::cli

#define AFN_CLI_COMMAND(Type)                                                             \
  [[maybe_unused]] static const bool afn_cli_registered_##Type = [] {                     \
    ::afinar::cli::command_registry().push_back([] { return std::make_unique<Type>(); }); \
    return true;                                                                          \
  }()
