// Runs the `jiritsu` binary (or any program) as a child process, for CLI and
// crash tests.
//
// Thread-safety: functions are reentrant; a Child is owned by one thread.
// Failure: a program that cannot be started yields exit_code 127.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace jiritsu::testing {

struct CommandResult {
  int exit_code = -1;    // -signal when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
};

// Runs to completion (stdin from /dev/null unless stdin_text is given).
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// Path of the jiritsu binary under test (JIRITSU_BINARY compile definition).
std::string JiritsuBinary();

// Runs `jiritsu <args...>` to completion.
CommandResult RunJiritsu(std::vector<std::string> args);

// A started child with stdout/stderr sent to files.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& stdout_path,
        const std::string& stderr_path);
  ~Child();  // SIGKILLs and reaps if still running
  pid_t pid() const { return pid_; }
  // Non-blocking: true and sets exit code once the child ended.
  bool TryWait(int* exit_code);
  int Wait();
  void Kill(int signal_number);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
};

// Starts this test binary again (fork, then only execve: the child is a
// fresh single-threaded process, so RocksDB's thread pools work in it),
// running only `test_name` (DISABLED_ tests included) with `env` added to
// the environment. In the child, `close_in_child` are closed first and, when
// `quiet`, stdout goes to /dev/null. Everything is prepared before fork().
// Returns the pid, or -1 when fork failed.
pid_t StartTestInFreshProcess(const std::string& test_name, const std::vector<std::string>& env,
                              const std::vector<int>& close_in_child = {}, bool quiet = false);
// StartTestInFreshProcess, then waits: the child's exit code (0: the test
// passed), -signal when it was killed, 127 when it could not start.
int RunTestInFreshProcess(const std::string& test_name, const std::vector<std::string>& env);

// A fresh temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace jiritsu::testing
