// Semantic tests for docs/semantics.md section 14, the subprocess module,
// rules SS-08..SS-14: how Popen
// finds the program, runs a shell, sets up the working directory, the
// environment, the standard streams, the other fds, the session and the
// signals, and how a child that cannot start is reported. Scenarios follow
// CPython's Lib/test/test_subprocess.py (ProcessTestCase,
// POSIXProcessTestCase), with /bin/sh and coreutils for sys.executable.
//
// Parts of rules with nothing to test in C++ (departures, see
// docs/python-mapping.md):
//   SS-09  path-like args: a std::filesystem::path does not convert to a
//          command (checked below); pass path.string().
//   SS-12  pass_fds with close_fds=false forces close_fds without the
//          RuntimeWarning (corio has no warnings).
//   SS-14  undecodable data on the error pipe: there is no error pipe; the
//          child reports through the memory it shares with the parent.
#include <corio/os_errors.hpp>
#include <corio/subprocess/popen.hpp>
#include <corio/subprocess/run.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <type_traits>

#include "error_util.hpp"
#include "io/io_util.hpp"
#include "subprocess_util.hpp"

using namespace std::chrono_literals;
namespace sp = corio::subprocess;
using corio_test::no_children;
using corio_test::temp_dir;

namespace {

std::string out_of(const sp::command& args, sp::run_options o = {}) {
  o.stdout = sp::pipe;
  return *sp::run(args, std::move(o)).stdout;
}

std::string link_of(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

std::string real_path(const std::string& p) { return std::filesystem::canonical(p).string(); }

// Fields of /proc/<pid>/stat after the command name: state ppid pgrp session.
struct stat_ids {
  long pid, pgrp, session;
};
stat_ids ids_of(const std::string& stat_line) {
  stat_ids s{};
  s.pid = std::stol(stat_line);
  const std::size_t close = stat_line.rfind(')');
  char state;
  long ppid;
  std::sscanf(stat_line.c_str() + close + 2, "%c %ld %ld %ld", &state, &ppid, &s.pgrp, &s.session);
  return s;
}

}  // namespace

// == SS-08 ==========================================================================

TEST(SS, SS_08_a_sequence_is_executed_with_args0_as_the_program) {
  EXPECT_EQ(out_of({"echo", "a b", "c"}), "a b c\n");
}

TEST(SS, SS_08_a_string_without_shell_is_one_program_name) {
  // Python: POSIXProcessTestCase.test_args_string (no word splitting).
  EXPECT_EQ(out_of("true"), "");
  try {
    sp::run("echo hello");
    FAIL() << "no exception";
  } catch (const corio::file_not_found_error& e) {
    EXPECT_EQ(e.filename(), "echo hello");
  }
}

TEST(SS, SS_08_a_bare_name_is_searched_in_the_path_of_env) {
  // Python: get_exec_path(env): the child's PATH, not this process's.
  temp_dir d;
  d.write("corio-only-here", "#!/bin/sh\necho found $1\n", 0755);
  EXPECT_THROW(sp::run({"corio-only-here"}), corio::file_not_found_error);
  EXPECT_EQ(out_of({"corio-only-here", "x"}, {.env = sp::environment{{"PATH", d.path()}}}), "found x\n");
  EXPECT_EQ(out_of({"corio-only-here", "y"}, {.extra_env = {{"PATH", "/nonexistent:" + d.path()}}}), "found y\n");
}

TEST(SS, SS_08_an_earlier_path_entry_that_cannot_execute_is_reported) {
  // Python's _posixsubprocess reports the first error that is not ENOENT.
  temp_dir d;
  const std::string a = d.mkdir("a");
  d.write("a/corio-prog", "#!/bin/sh\n", 0644);  // found, not executable
  try {
    sp::run({"corio-prog"}, {.env = sp::environment{{"PATH", "/nonexistent:" + a}}});
    FAIL() << "no exception";
  } catch (const corio::permission_error& e) {
    EXPECT_EQ(e.filename(), "corio-prog");
  }
}

TEST(SS, SS_08_a_relative_path_is_resolved_against_cwd) {
  // Python: ProcessTestCase.test_cwd_with_relative_arg, test_cwd_with_relative_executable.
  temp_dir d;
  d.mkdir("bin");
  d.write("bin/prog", "#!/bin/sh\necho relative $0\n", 0755);
  EXPECT_EQ(out_of({"./bin/prog"}, {.cwd = d.path()}), "relative ./bin/prog\n");
  std::filesystem::create_symlink("/bin/sh", d.path() + "/bin/shell");
  EXPECT_EQ(out_of({"argv0", "-c", "echo $0"}, {.cwd = d.path(), .executable = "./bin/shell"}), "argv0\n");
  EXPECT_THROW(sp::run({"./bin/prog"}), corio::file_not_found_error);  // not from here
}

TEST(SS, SS_08_executable_is_executed_while_args0_stays_argv0) {
  // Python: ProcessTestCase.test_executable_takes_precedence.
  EXPECT_EQ(out_of({"doesnotexist", "-c", "echo $0"}, {.executable = "/bin/sh"}), "doesnotexist\n");
  try {
    sp::run({"/bin/sh"}, {.executable = "corio-no-such-program"});
    FAIL() << "no exception";
  } catch (const corio::file_not_found_error& e) {
    EXPECT_EQ(e.filename(), "corio-no-such-program");
  }
}

// == SS-09 ==========================================================================

TEST(SS, SS_09_a_shell_string_runs_with_bin_sh_c) {
  // Python: POSIXProcessTestCase.test_shell_string.
  EXPECT_EQ(out_of("echo $((1 + 2)) | tr 3 x", {.shell = true}), "x\n");
}

TEST(SS, SS_09_a_shell_sequence_gives_the_rest_as_dollar_0_and_1) {
  // Python: POSIXProcessTestCase.test_shell_sequence.
  EXPECT_EQ(out_of({"echo $0 $1", "zero", "one"}, {.shell = true}), "zero one\n");
}

TEST(SS, SS_09_executable_replaces_the_shell) {
  // Python: ProcessTestCase.test_executable_replaces_shell: argv is
  // [executable, "-c", cmd].
  EXPECT_EQ(out_of("hello", {.shell = true, .executable = "/bin/echo"}), "-c hello\n");
}

TEST(SS, SS_09_a_path_is_not_an_argument_list) {
  // Python 3.8+ takes path-like args (TypeError with shell=True); here a
  // std::filesystem::path does not convert: spell path.string().
  static_assert(!std::is_convertible_v<std::filesystem::path, sp::command>);
  EXPECT_EQ(out_of(std::filesystem::path("/bin/true").string()), "");
}

// == SS-10 ==========================================================================

TEST(SS, SS_10_cwd_sets_the_working_directory) {
  // Python: ProcessTestCase.test_cwd.
  temp_dir d;
  EXPECT_EQ(out_of({"pwd"}, {.cwd = d.path()}), real_path(d.path()) + "\n");
}

TEST(SS, SS_10_env_replaces_the_whole_environment) {
  // Python: ProcessTestCase.test_env, test_empty_env.
  EXPECT_EQ(out_of({"/usr/bin/env"}, {.env = sp::environment{{"FRUIT", "orange"}}}), "FRUIT=orange\n");
  EXPECT_EQ(out_of({"/usr/bin/env"}, {.env = sp::environment{}}), "");
  EXPECT_EQ(out_of({"/usr/bin/env"}, {.env = sp::environment{{"A", "x=y"}}}), "A=x=y\n");  // '=' in a value is fine
}

TEST(SS, SS_10_extra_env_extends_the_inherited_environment) {
  ::setenv("CORIO_TEST_INHERITED", "kept", 1);
  const std::string out = out_of({"/usr/bin/env"}, {.extra_env = {{"CORIO_TEST_ADDED", "1"}}});
  ::unsetenv("CORIO_TEST_INHERITED");
  EXPECT_NE(out.find("CORIO_TEST_INHERITED=kept\n"), std::string::npos);
  EXPECT_NE(out.find("CORIO_TEST_ADDED=1\n"), std::string::npos);
}

TEST(SS, SS_10_a_nul_or_an_equals_sign_in_a_name_is_refused_before_spawning) {
  // Python: ProcessTestCase.test_invalid_cmd, test_invalid_env.
  EXPECT_THROW(sp::run({"echo", std::string("a\0b", 3)}), std::invalid_argument);
  EXPECT_THROW(sp::run({std::string("ec\0ho", 5)}), std::invalid_argument);
  EXPECT_THROW(sp::run({"true"}, {.env = sp::environment{{"A=B", "x"}}}), std::invalid_argument);
  EXPECT_THROW(sp::run({"true"}, {.env = sp::environment{{std::string("A\0B", 3), "x"}}}), std::invalid_argument);
  EXPECT_THROW(sp::run({"true"}, {.env = sp::environment{{"A", std::string("x\0y", 3)}}}), std::invalid_argument);
  EXPECT_THROW(sp::run({"true"}, {.cwd = std::string("/t\0mp", 5)}), std::invalid_argument);
  EXPECT_TRUE(no_children());
}

// == SS-11 ==========================================================================

TEST(SS, SS_11_none_inherits_the_parents_streams) {
  // Python: ProcessTestCase.test_stdin_none and friends.
  const std::string out = out_of({"sh", "-c", "readlink /proc/$$/fd/0 /proc/$$/fd/2"});
  EXPECT_EQ(out, link_of("/proc/self/fd/0") + "\n" + link_of("/proc/self/fd/2") + "\n");
}

TEST(SS, SS_11_pipe_attributes_exist_only_for_pipes) {
  // Python: ProcessTestCase.test_stdout_stderr_pipe.
  sp::popen p({"sh", "-c", "echo out; echo err >&2"}, {.stdout = sp::pipe, .stderr = sp::pipe});
  EXPECT_EQ(p.stdin(), nullptr);
  ASSERT_NE(p.stdout(), nullptr);
  ASSERT_NE(p.stderr(), nullptr);
  EXPECT_EQ(p.stdout()->read(), "out\n");
  EXPECT_EQ(p.stderr()->read(), "err\n");
  EXPECT_EQ(p.wait(), 0);
}

TEST(SS, SS_11_devnull_connects_the_null_device) {
  // Python: ProcessTestCase.test_stdout_devnull, test_stdin_devnull.
  EXPECT_EQ(*sp::run({"sh", "-c", "a=$(readlink /proc/$$/fd/0) b=$(readlink /proc/$$/fd/1); echo $a $b >&2; cat"},
                     {.stdin = sp::devnull, .stdout = sp::devnull, .stderr = sp::pipe})
                 .stderr,
            "/dev/null /dev/null\n");
}

TEST(SS, SS_11_an_fd_is_used_as_given_and_may_serve_several_streams) {
  // Python: ProcessTestCase.test_stdout_filedes, test_stdout_stderr_file.
  temp_dir d;
  const int fd = ::open((d.path() + "/out").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(sp::run({"sh", "-c", "echo one; echo two >&2"}, {.stdout = fd, .stderr = fd}).returncode, 0);
  char buf[64] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), 8);
  EXPECT_EQ(std::string(buf), "one\ntwo\n");
  ::close(fd);
}

TEST(SS, SS_11_stderr_to_stdout_follows_an_inherited_stdout) {
  // Python: ProcessTestCase.test_stderr_redirect_with_no_stdout_redirect:
  // the child's stderr is wherever its stdout is, here this process's fd 1.
  temp_dir d;
  const std::string file = d.path() + "/link";
  EXPECT_EQ(sp::run({"sh", "-c", "a=$(readlink /proc/$$/fd/2); echo $a > \"$0\"", file}, {.stderr = sp::stdout}).returncode, 0);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char buf[PATH_MAX] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), link_of("/proc/self/fd/1") + "\n");
  // With stdout a pipe, stderr joins it.
  EXPECT_EQ(sp::run({"sh", "-c", "echo a; echo b >&2"}, {.stdout = sp::pipe, .stderr = sp::stdout}).stdout, "a\nb\n");
}

TEST(SS, SS_11_swapped_std_fds_reach_the_right_streams) {
  // Python: POSIXProcessTestCase.test_swap_fds: sources among 0-2 that are
  // not their own targets.
  temp_dir d;
  const std::string out = d.path() + "/out";
  const auto r = sp::run({"sh", "-c", "a=$(readlink /proc/$$/fd/1) b=$(readlink /proc/$$/fd/2); echo $a $b > \"$0\"", out},
                         {.stdout = 2, .stderr = 1});
  EXPECT_EQ(r.returncode, 0);
  const int fd = ::open(out.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char buf[2 * PATH_MAX] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)),
            link_of("/proc/self/fd/2") + " " + link_of("/proc/self/fd/1") + "\n");
}

// == SS-12 ==========================================================================

namespace {
// An fd without FD_CLOEXEC, as a careless library leaves one.
int inheritable_fd() { return ::open("/dev/null", O_RDONLY); }

std::string is_open_in_child(int fd, sp::run_options o = {}) {
  return out_of({"sh", "-c", "test -e /proc/self/fd/" + std::to_string(fd) + " && echo open || echo closed"},
                std::move(o));
}
}  // namespace

TEST(SS, SS_12_close_fds_closes_every_fd_above_2) {
  // Python: POSIXProcessTestCase.test_close_fds.
  const int fd = inheritable_fd();
  ASSERT_GE(fd, 3);
  EXPECT_EQ(is_open_in_child(fd), "closed\n");
  EXPECT_EQ(is_open_in_child(fd, {.close_fds = false}), "open\n");
  ::close(fd);
}

TEST(SS, SS_12_pass_fds_stay_open_in_the_child_only) {
  // Python: POSIXProcessTestCase.test_pass_fds, test_pass_fds_inheritable.
  const int keep = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int other = inheritable_fd();
  EXPECT_EQ(is_open_in_child(keep, {.pass_fds = {keep}}), "open\n");
  EXPECT_EQ(is_open_in_child(other, {.pass_fds = {keep}}), "closed\n");
  // pass_fds forces close_fds (Python warns, and does the same).
  EXPECT_EQ(is_open_in_child(other, {.close_fds = false, .pass_fds = {keep}}), "closed\n");
  EXPECT_EQ(::fcntl(keep, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);  // the parent's flags are unchanged
  ::close(keep);
  ::close(other);
}

TEST(SS, SS_12_a_pass_fd_may_also_be_a_std_stream) {
  // Python: POSIXProcessTestCase.test_pass_fds_redirected.
  temp_dir d;
  const int fd = ::open((d.path() + "/f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const auto r = sp::run({"sh", "-c", "echo via1; echo viaN >&" + std::to_string(fd)}, {.stdout = fd, .pass_fds = {fd}});
  EXPECT_EQ(r.returncode, 0);
  char buf[32] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), 10);
  EXPECT_EQ(std::string(buf), "via1\nviaN\n");
  ::close(fd);
}

TEST(SS, SS_12_std_fds_are_set_up_when_the_parent_has_0_1_2_closed) {
  // Python: POSIXProcessTestCase.test_close_fds_0_1_2: the pipes this
  // process makes land on 0-2 and must move out of the child's way.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(0);
    ::close(1);
    ::close(2);
    int ok = 0;
    try {
      const auto r = sp::run({"sh", "-c", "cat; echo out; echo err >&2"}, {.input = "in ", .capture_output = true});
      ok = r.stdout == "in out\n" && r.stderr == "err\n" && r.returncode == 0;
    } catch (...) {
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// == SS-13 ==========================================================================

TEST(SS, SS_13_start_new_session_makes_the_child_a_session_leader) {
  // Python: POSIXProcessTestCase.test_start_new_session.
  const stat_ids mine = ids_of(out_of({"sh", "-c", "cat /proc/$PPID/stat"}));
  const stat_ids child = ids_of(out_of({"sh", "-c", "cat /proc/$$/stat"}, {.start_new_session = true}));
  EXPECT_EQ(child.session, child.pid);
  EXPECT_EQ(child.pgrp, child.pid);
  EXPECT_NE(child.session, mine.session);
}

TEST(SS, SS_13_process_group_0_makes_a_new_group_in_the_same_session) {
  // Python: POSIXProcessTestCase.test_process_group_0.
  const stat_ids plain = ids_of(out_of({"sh", "-c", "cat /proc/$$/stat"}));
  const stat_ids child = ids_of(out_of({"sh", "-c", "cat /proc/$$/stat"}, {.process_group = 0}));
  EXPECT_EQ(child.pgrp, child.pid);
  EXPECT_NE(plain.pgrp, plain.pid);
  EXPECT_EQ(child.session, plain.session);
}

TEST(SS, SS_13_restore_signals_sets_sigpipe_and_sigxfsz_back_to_default) {
  // Python: POSIXProcessTestCase.test_restore_signals (Python ignores both).
  struct sigaction ign {}, old_pipe{}, old_xfsz{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old_pipe);
  ::sigaction(SIGXFSZ, &ign, &old_xfsz);
  const std::string cmd = "grep SigIgn /proc/self/status";
  const std::string restored = out_of({"sh", "-c", cmd});
  const std::string kept = out_of({"sh", "-c", cmd}, {.restore_signals = false});
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::sigaction(SIGXFSZ, &old_xfsz, nullptr);
  auto ignored = [](const std::string& line) { return std::stoull(line.substr(line.find(':') + 1), nullptr, 16); };
  const unsigned long long both = (1ull << (SIGPIPE - 1)) | (1ull << (SIGXFSZ - 1));
  EXPECT_EQ(ignored(restored) & both, 0u) << restored;
  EXPECT_EQ(ignored(kept) & both, both) << kept;
}

TEST(SS, SS_13_handled_signals_are_default_in_the_child) {
  // A handler of this process never runs in the child (it would run on
  // memory the child shares until exec).
  struct sigaction handled {}, old {};
  handled.sa_handler = [](int) {};
  ::sigaction(SIGUSR1, &handled, &old);
  const auto r = sp::run({"sh", "-c", "kill -USR1 $$; echo survived"}, {.stdout = sp::pipe});
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_EQ(r.returncode, -SIGUSR1);
  EXPECT_EQ(r.stdout, "");
}

// == SS-14 ==========================================================================

TEST(SS, SS_14_a_missing_program_raises_file_not_found_with_its_name) {
  // Python: ProcessTestCase.test_file_not_found_includes_filename.
  try {
    sp::popen p({"/opt/corio/nonexistent", "arg"});
    FAIL() << "no exception";
  } catch (const corio::file_not_found_error& e) {
    EXPECT_EQ(e.filename(), "/opt/corio/nonexistent");
    EXPECT_EQ(e.error_number(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/opt/corio/nonexistent"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(no_children());
}

TEST(SS, SS_14_a_bad_cwd_raises_with_the_cwd_as_filename) {
  // Python: ProcessTestCase.test_file_not_found_with_bad_cwd.
  try {
    sp::popen p({"true"}, {.cwd = "/some/nonexistent/directory"});
    FAIL() << "no exception";
  } catch (const corio::file_not_found_error& e) {
    EXPECT_EQ(e.filename(), "/some/nonexistent/directory");
    EXPECT_NE(std::string(e.what()).find("/some/nonexistent/directory"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(no_children());
}

TEST(SS, SS_14_a_directory_or_a_file_without_x_raises_permission_error) {
  // Python: POSIXProcessTestCase.test_exception_bad_executable and friends.
  temp_dir d;
  const std::string plain = d.write("not-executable", "#!/bin/sh\n", 0644);
  for (const std::string& prog : {d.path(), plain}) {
    try {
      sp::popen p({prog});
      FAIL() << "no exception for " << prog;
    } catch (const corio::permission_error& e) {
      EXPECT_EQ(e.filename(), prog);
      EXPECT_EQ(e.error_number(), EACCES);
    }
  }
  try {
    sp::popen p({plain + "/below-a-file"});
    FAIL() << "no exception";
  } catch (const corio::not_a_directory_error& e) {
    EXPECT_EQ(e.error_number(), ENOTDIR);
  }
  EXPECT_TRUE(no_children());
}

TEST(SS, SS_14_repeated_failures_leak_no_fd_and_no_child) {
  // Python: ProcessTestCase.test_leaking_fds_on_error.
  const int before = corio_test::open_fd_count();
  for (int i = 0; i < 50; ++i) {
    EXPECT_THROW(sp::popen({"/nonexistent/corio"}, {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe}),
                 corio::file_not_found_error);
    EXPECT_THROW(sp::popen({"true"}, {.stdout = sp::devnull, .cwd = "/nonexistent"}), corio::file_not_found_error);
  }
  EXPECT_EQ(corio_test::open_fd_count(), before);
  EXPECT_TRUE(no_children());
}

TEST(SS, SS_14_an_fd_that_is_not_open_fails_the_setup_in_the_parent) {
  // Python: a bad fd in pass_fds fails in the child and raises OSError(EBADF).
  try {
    sp::run({"true"}, {.pass_fds = {987}});
    FAIL() << "no exception";
  } catch (const corio::os_error& e) {
    EXPECT_EQ(e.error_number(), EBADF);
    EXPECT_EQ(e.filename(), "");
  }
  EXPECT_TRUE(no_children());
}
