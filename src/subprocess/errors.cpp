// subprocess errors and Python's way of printing a command (SS-04).
#include <corio/subprocess/errors.hpp>

#include <string.h>

#include <charconv>
#include <csignal>
#include <cstdio>

namespace corio::subprocess {

namespace {

// Python's repr() of a str: single quotes unless the text holds one and no
// double quote; backslash escapes for the quote, backslash and control
// characters. Bytes >= 0x80 pass through (UTF-8 text prints as itself).
std::string py_repr(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == q || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += q;
  return out;
}

// Python's str() of a float timeout: the shortest text that reads back.
std::string seconds_text(double s) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, s);
  return std::string(buf, r.ptr);
}

// Python's repr(signal.Signals(n)), or none for a number it has no name for.
std::optional<std::string> signal_repr(int sig) {
  const char* abbrev = nullptr;
  if (sig == SIGRTMIN)
    abbrev = "RTMIN";
  else if (sig == SIGRTMAX)
    abbrev = "RTMAX";
  else if (sig > 0 && sig < 32)
    abbrev = ::sigabbrev_np(sig);
  if (!abbrev) return std::nullopt;
  return "<Signals.SIG" + std::string(abbrev) + ": " + std::to_string(sig) + ">";
}

std::string called_message(int rc, const command& cmd) {
  if (rc < 0) {
    if (std::optional<std::string> name = signal_repr(-rc)) return "Command '" + cmd.str() + "' died with " + *name + ".";
    return "Command '" + cmd.str() + "' died with unknown signal " + std::to_string(-rc) + ".";
  }
  return "Command '" + cmd.str() + "' returned non-zero exit status " + std::to_string(rc) + ".";
}

}  // namespace

std::string command::str() const {
  if (string_) return args_.empty() ? std::string() : args_[0];
  std::string out = "[";
  for (std::size_t i = 0; i < args_.size(); ++i) {
    if (i) out += ", ";
    out += py_repr(args_[i]);
  }
  out += ']';
  return out;
}

called_process_error::called_process_error(int returncode, command cmd, std::optional<bytes> output,
                                           std::optional<bytes> stderr)
    : subprocess_error(called_message(returncode, cmd)),
      returncode_(returncode),
      cmd_(std::move(cmd)),
      output_(std::move(output)),
      stderr_(std::move(stderr)) {}

timeout_expired::timeout_expired(command cmd, std::chrono::duration<double> timeout, std::optional<bytes> output,
                                 std::optional<bytes> stderr)
    : subprocess_error("Command '" + cmd.str() + "' timed out after " + seconds_text(timeout.count()) + " seconds"),
      cmd_(std::move(cmd)),
      timeout_(timeout),
      output_(std::move(output)),
      stderr_(std::move(stderr)) {}

}  // namespace corio::subprocess
