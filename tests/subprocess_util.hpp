// Helpers for the tests that start processes (sync and asyncio
// subprocesses): a scratch directory, and checks that nothing is left
// behind: no child, reaped or not.
#pragma once

#include "sanitizers.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace corio_test {

// ThreadSanitizer's allocator keeps freed blocks: peak-memory bounds do
// not hold under it.
inline constexpr bool memory_bounds_hold = !under_tsan;

// True if this process has no child at all, running or zombie: every child
// a test started was reaped.
inline bool no_children() {
  siginfo_t si{};
  return ::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

// A scratch directory, removed with what it holds.
class temp_dir {
 public:
  temp_dir() {
    char tmpl[] = "/tmp/corio-subprocess-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // Writes `name` in the directory with `mode`; its path.
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0644) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
  // Makes the subdirectory `name`; its path.
  std::string mkdir(const std::string& name) const {
    const std::string p = path_ + "/" + name;
    ::mkdir(p.c_str(), 0755);
    return p;
  }

 private:
  std::string path_;
};

// A FIFO a child blocks on (`read _ < "$0"` with the path as $0) until
// release() writes a line: keeps a child busy without a timed sleep. Give
// such a child no inherited stdout or stderr: if a failed test aborts, it
// stays blocked, and must not hold the test runner's output open.
//
// The write end stays open from the first release() to the gate's end: a
// child that reads again reopens the FIFO, and had the writer closed just
// after that reopen, its read would see end of file instead of waiting for
// the next release().
class gate {
 public:
  gate() : path_(dir_.path() + "/gate") {
    if (::mkfifo(path_.c_str(), 0600) < 0) throw std::runtime_error("mkfifo failed");
  }
  gate(const gate&) = delete;
  gate& operator=(const gate&) = delete;
  ~gate() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& path() const { return path_; }
  // The first call blocks until the child has opened the FIFO; each lets it
  // read a line.
  void release() const {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd_ < 0) throw std::runtime_error("open of the gate failed");
    }
    if (::write(fd_, "go\n", 3) != 3) throw std::runtime_error("write to the gate failed");
  }

 private:
  temp_dir dir_;
  std::string path_;
  mutable int fd_ = -1;
};

}  // namespace corio_test
