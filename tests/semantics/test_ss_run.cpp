// Semantic tests for docs/semantics.md section 14, the subprocess module,
// rules SS-01..SS-07: run, CompletedProcess, call, check_call, check_output,
// getstatusoutput and the errors they raise. Scenarios follow CPython's
// Lib/test/test_subprocess.py (RunFuncTestCase, ProcessTestCase,
// POSIXProcessTestCase, MiscTests), with /bin/sh and coreutils where CPython
// runs sys.executable.
//
// Parts of rules with nothing to test in C++ (departures, see
// docs/python-mapping.md):
//   SS-05  KeyboardInterrupt inside call(): a signal does not raise in C++.
//   SS-06  check_output(input=None) given explicitly: an unset optional and
//          none are the same value; `.input = ""` gives the empty stdin.
#include <corio/os_errors.hpp>
#include <corio/subprocess/run.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "error_util.hpp"
#include "subprocess_util.hpp"

using namespace std::chrono_literals;
namespace sp = corio::subprocess;
using corio_test::no_children;
using corio_test::what_of;

// == SS-01 ==========================================================================

TEST(SS, SS_01_run_returns_a_completed_process_with_args_and_returncode) {
  // Python: RunFuncTestCase.test_returncode.
  const sp::completed_process r = sp::run({"sh", "-c", "exit 47"});
  EXPECT_EQ(r.returncode, 47);
  EXPECT_EQ(r.args, sp::command({"sh", "-c", "exit 47"}));
  EXPECT_FALSE(r.stdout.has_value());  // not captured: none
  EXPECT_FALSE(r.stderr.has_value());
  EXPECT_TRUE(no_children());
}

TEST(SS, SS_01_check_returncode_raises_exactly_for_a_non_zero_status) {
  // Python: RunFuncTestCase.test_returncode, test_check_zero.
  EXPECT_NO_THROW(sp::run({"true"}).check_returncode());
  const sp::completed_process r = sp::run({"sh", "-c", "exit 47"});
  try {
    r.check_returncode();
    FAIL() << "no exception";
  } catch (const sp::called_process_error& e) {
    EXPECT_EQ(e.returncode(), 47);
  }
}

TEST(SS, SS_01_capture_output_captures_stdout_and_stderr) {
  // Python: RunFuncTestCase.test_capture_output.
  const sp::completed_process r =
      sp::run({"sh", "-c", "echo BDFL; echo FLUFL >&2"}, {.capture_output = true});
  EXPECT_EQ(r.stdout, "BDFL\n");
  EXPECT_EQ(r.stderr, "FLUFL\n");
}

TEST(SS, SS_01_a_pipe_for_stdout_alone_captures_stdout_only) {
  // Python: RunFuncTestCase.test_capture_stdout.
  const sp::completed_process r = sp::run({"sh", "-c", "echo BDFL"}, {.stdout = sp::pipe});
  EXPECT_EQ(r.stdout, "BDFL\n");
  EXPECT_FALSE(r.stderr.has_value());
}

// == SS-02 ==========================================================================

// A program that does not exist: had the call started anything, it would
// raise file_not_found_error instead of the argument error.
constexpr const char* kNoSuchProgram = "corio-no-such-program";

TEST(SS, SS_02_input_with_stdin_is_refused_before_anything_starts) {
  // Python: RunFuncTestCase.test_check_output_stdin_with_input_arg.
  EXPECT_EQ(what_of<std::invalid_argument>(
                [] { sp::run({kNoSuchProgram}, {.stdin = sp::devnull, .input = "hare"}); }),
            "stdin and input arguments may not both be used.");
}

TEST(SS, SS_02_capture_output_with_stdout_or_stderr_is_refused) {
  // Python: RunFuncTestCase.test_stdout_with_capture_output_arg, test_stderr_with_capture_output_arg.
  const std::string msg = "stdout and stderr arguments may not be used with capture_output.";
  EXPECT_EQ(what_of<std::invalid_argument>(
                [] { sp::run({kNoSuchProgram}, {.stdout = sp::devnull, .capture_output = true}); }),
            msg);
  EXPECT_EQ(what_of<std::invalid_argument>(
                [] { sp::run({kNoSuchProgram}, {.stderr = sp::devnull, .capture_output = true}); }),
            msg);
}

TEST(SS, SS_02_check_output_refuses_stdout_and_check) {
  // Python: ProcessTestCase.test_check_output_stdout_arg.
  EXPECT_EQ(what_of<std::invalid_argument>([] { sp::check_output({kNoSuchProgram}, {.stdout = sp::devnull}); }),
            "stdout argument not allowed, it will be overridden.");
  EXPECT_EQ(what_of<std::invalid_argument>([] { sp::check_output({kNoSuchProgram}, {.check = true}); }),
            "check argument not allowed, it will be overridden.");
}

TEST(SS, SS_02_stdout_for_stdin_or_stdout_is_refused) {
  // Python 3.13: RunFuncTestCase.test_stdout_stdout.
  EXPECT_EQ(what_of<std::invalid_argument>([] { sp::run({kNoSuchProgram}, {.stdout = sp::stdout}); }),
            "subprocess: STDOUT can only be used for stderr");
  EXPECT_EQ(what_of<std::invalid_argument>([] { sp::run({kNoSuchProgram}, {.stdin = sp::stdout}); }),
            "subprocess: STDOUT can only be used for stderr");
}

// == SS-03 ==========================================================================

TEST(SS, SS_03_check_call_returns_zero_or_raises_with_the_status) {
  // Python: ProcessTestCase.test_check_call_zero, test_check_call_nonzero.
  EXPECT_EQ(sp::check_call({"true"}), 0);
  try {
    sp::check_call({"sh", "-c", "exit 47"});
    FAIL() << "no exception";
  } catch (const sp::called_process_error& e) {
    EXPECT_EQ(e.returncode(), 47);
    EXPECT_EQ(e.cmd(), sp::command({"sh", "-c", "exit 47"}));
    EXPECT_FALSE(e.output().has_value());
    EXPECT_FALSE(e.stderr().has_value());
  }
}

TEST(SS, SS_03_check_output_returns_stdout_or_raises_carrying_it) {
  // Python: ProcessTestCase.test_check_output, test_check_output_nonzero.
  EXPECT_EQ(sp::check_output({"sh", "-c", "echo BDFL"}), "BDFL\n");
  try {
    sp::check_output({"sh", "-c", "echo partial; exit 5"});
    FAIL() << "no exception";
  } catch (const sp::called_process_error& e) {
    EXPECT_EQ(e.returncode(), 5);
    EXPECT_EQ(e.output(), "partial\n");
    EXPECT_EQ(e.stdout(), "partial\n");  // the alias
    EXPECT_FALSE(e.stderr().has_value());
  }
}

TEST(SS, SS_03_run_with_check_raises_with_both_captured_streams) {
  // Python: RunFuncTestCase.test_check.
  try {
    sp::run({"sh", "-c", "echo out; echo err >&2; exit 47"}, {.capture_output = true, .check = true});
    FAIL() << "no exception";
  } catch (const sp::called_process_error& e) {
    EXPECT_EQ(e.returncode(), 47);
    EXPECT_EQ(e.output(), "out\n");
    EXPECT_EQ(e.stderr(), "err\n");
  }
}

// == SS-04 ==========================================================================

TEST(SS, SS_04_a_non_zero_status_reads_returned_non_zero_exit_status) {
  // Python: POSIXProcessTestCase.test_CalledProcessError_str_non_zero.
  EXPECT_EQ(std::string(sp::called_process_error(2, sp::command({"fake cmd"})).what()),
            "Command '['fake cmd']' returned non-zero exit status 2.");
  EXPECT_EQ(std::string(sp::called_process_error(1, sp::command("ls -l")).what()),
            "Command 'ls -l' returned non-zero exit status 1.");
}

TEST(SS, SS_04_a_signal_reads_died_with_its_name_and_number) {
  // Python: POSIXProcessTestCase.test_CalledProcessError_str_signal.
  EXPECT_EQ(std::string(sp::called_process_error(-SIGABRT, sp::command({"fake cmd"})).what()),
            "Command '['fake cmd']' died with <Signals.SIGABRT: 6>.");
  try {
    sp::check_call({"sh", "-c", "kill -9 $$"});
    FAIL() << "no exception";
  } catch (const sp::called_process_error& e) {
    EXPECT_EQ(std::string(e.what()), "Command '['sh', '-c', 'kill -9 $$']' died with <Signals.SIGKILL: 9>.");
  }
}

TEST(SS, SS_04_an_unknown_signal_reads_died_with_unknown_signal) {
  // Python: POSIXProcessTestCase.test_CalledProcessError_str_unknown_signal.
  EXPECT_EQ(std::string(sp::called_process_error(-9876, sp::command({"fake cmd"})).what()),
            "Command '['fake cmd']' died with unknown signal 9876.");
}

TEST(SS, SS_04_timeout_expired_reads_timed_out_after_and_both_derive_from_subprocess_error) {
  // Python: ProcessTestCase.test_wait_timeout (the message).
  EXPECT_EQ(std::string(sp::timeout_expired(sp::command({"sleep", "1"}), 100ms).what()),
            "Command '['sleep', '1']' timed out after 0.1 seconds");
  EXPECT_EQ(std::string(sp::timeout_expired(sp::command("x"), 5s).what()), "Command 'x' timed out after 5 seconds");
  static_assert(std::is_base_of_v<sp::subprocess_error, sp::called_process_error>);
  static_assert(std::is_base_of_v<sp::subprocess_error, sp::timeout_expired>);
  static_assert(std::is_base_of_v<std::runtime_error, sp::subprocess_error>);
}

TEST(SS, SS_04_arguments_print_as_python_reprs) {
  EXPECT_EQ(sp::command({"it's", "a \"b\"", "tab\there", "back\\slash"}).str(),
            R"(["it's", 'a "b"', 'tab\there', 'back\\slash'])");
  EXPECT_EQ(sp::command(std::vector<std::string>{}).str(), "[]");
}

// == SS-05 ==========================================================================

TEST(SS, SS_05_call_returns_the_returncode) {
  // Python: ProcessTestCase.test_call_seq.
  EXPECT_EQ(sp::call({"sh", "-c", "exit 47"}), 47);
  EXPECT_EQ(sp::call({"true"}), 0);
}

TEST(SS, SS_05_call_with_a_timeout_kills_and_reaps_the_child) {
  // Python: ProcessTestCase.test_call_timeout.
  EXPECT_THROW(sp::call({"sleep", "60"}, {.timeout = 100ms}), sp::timeout_expired);
  EXPECT_TRUE(no_children());  // killed and reaped, not left running 60 s
}

// == SS-06 ==========================================================================

TEST(SS, SS_06_input_is_written_to_the_childs_stdin_which_is_then_closed) {
  // Python: ProcessTestCase.test_check_output_input_arg.
  EXPECT_EQ(sp::check_output({"tr", "a-z", "A-Z"}, {.input = "pear"}), "PEAR");
  EXPECT_EQ(sp::run({"wc", "-c"}, {.input = std::string(100000, 'x'), .stdout = sp::pipe}).stdout, "100000\n");
}

TEST(SS, SS_06_empty_input_gives_the_child_an_empty_stdin) {
  // Python: ProcessTestCase.test_check_output_input_none (spelled input="").
  EXPECT_EQ(sp::check_output({"sh", "-c", "cat; echo end"}, {.input = ""}), "end\n");
}

TEST(SS, SS_06_stderr_to_stdout_folds_stderr_into_the_output) {
  // Python: ProcessTestCase.test_check_output_stderr.
  EXPECT_EQ(sp::check_output({"sh", "-c", "echo BDFL >&2"}, {.stderr = sp::stdout}), "BDFL\n");
}

// == SS-07 ==========================================================================

TEST(SS, SS_07_getstatusoutput_merges_streams_and_strips_one_newline) {
  // Python: MiscTests.test_getoutput, and the examples of the documentation.
  EXPECT_EQ(sp::getstatusoutput("echo xyzzy"), (std::pair<int, std::string>{0, "xyzzy"}));
  EXPECT_EQ(sp::getstatusoutput("printf 'two\\n\\n'"), (std::pair<int, std::string>{0, "two\n"}));
  EXPECT_EQ(sp::getstatusoutput("echo out; echo err >&2; exit 3"), (std::pair<int, std::string>{3, "out\nerr"}));
  EXPECT_EQ(sp::getoutput("echo xyzzy"), "xyzzy");
}

TEST(SS, SS_07_getstatusoutput_never_raises_for_the_status) {
  // Python: getstatusoutput('/bin/kill $$') is (-15, '').
  EXPECT_EQ(sp::getstatusoutput("kill $$"), (std::pair<int, std::string>{-15, ""}));
  EXPECT_EQ(sp::getstatusoutput("exit 1").first, 1);
  const auto [status, out] = sp::getstatusoutput("corio-no-such-program");
  EXPECT_EQ(status, 127);
  EXPECT_NE(out.find("not found"), std::string::npos) << out;
}

TEST(SS, SS_07_getstatusoutput_reads_in_text_mode) {
  // Python's universal newlines: "\r\n" and "\r" read as "\n".
  EXPECT_EQ(sp::getoutput("printf 'a\\r\\nb\\rc\\r\\n'"), "a\nb\nc");
}
