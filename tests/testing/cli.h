// Runs the real `afinar` executable (AFINAR_CLI_PATH, built with the tests) for end-to-end tests.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>

namespace afinar::testing {

// `afinar <args>` with stdout and stderr to `output` (discarded by default); the exit code, or -1
// when the process did not exit normally.
inline int run_cli(const std::string& args, const std::string& output = "/dev/null") {
  const std::string cmd = std::string(AFINAR_CLI_PATH) + " " + args + " > " + output + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace afinar::testing
