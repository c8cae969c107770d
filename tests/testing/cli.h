// Running commands and the real `afinar` executable (AFINAR_CLI_PATH, built with the tests) from
// end-to-end tests: with the output captured (run, cli) or sent to a file (run_cli).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace afinar::testing {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` through the shell; its exit code (-1 when it did not exit normally) and output.
inline Result run(const std::string& command) {
  Result r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// `afinar <args>` with its output captured.
inline Result cli(const std::string& args) {
  return run(std::string(AFINAR_CLI_PATH) + " " + args);
}

// `afinar <args>` with stdout and stderr to `output` (discarded by default); the exit code.
inline int run_cli(const std::string& args, const std::string& output = "/dev/null") {
  return run(std::string(AFINAR_CLI_PATH) + " " + args + " > " + output + " 2>&1").code;
}

}  // namespace afinar::testing
