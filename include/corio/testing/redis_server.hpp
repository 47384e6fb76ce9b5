// corio::testing::redis_server: a throwaway redis-server for tests and
// benchmarks. It starts on a free port of 127.0.0.1 in a private scratch
// directory with `--save ''` and, by default, `--appendonly no` (or the
// append-only log with an fsync every second), answers PING before the
// constructor returns, and is stopped by its pid and reaped by the
// destructor (SIGTERM, then SIGKILL after 10 s); it dies with its parent
// if that crashes. stop()/kill() and start() restart it on the same port,
// for tests of reconnection. Needs the redis-server program (Debian
// package redis-server).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace corio::testing {

/// A port of 127.0.0.1 nobody listens on at the moment.
inline std::uint16_t free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("free_tcp_port: socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("free_tcp_port: bind failed");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

/// One blocking request to 127.0.0.1:port with a 1 s limit on each step:
/// the raw reply, or "" if nothing answered.
inline std::string redis_raw_request(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) out.assign(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

/// A redis-server child of this process, for tests and benchmarks of code
/// using corio::distributed (Python: what a pytest fixture starting
/// redis-server does).
class redis_server {
 public:
  struct options {
    bool appendonly = false;  // --appendonly yes --appendfsync everysec
  };

  redis_server() : redis_server(options{}) {}
  explicit redis_server(options o) : opts_(o) {
    char tmpl[] = "/tmp/corio-redis-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("redis_server: mkdtemp failed");
    dir_ = tmpl;
    // Another process may take the free port before the server binds it:
    // a few ports are tried.
    for (int attempt = 0;; ++attempt) {
      port_ = free_tcp_port();
      if (try_start()) return;
      if (attempt == 4) {
        const std::string log = log_tail();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        throw std::runtime_error("redis_server: redis-server did not start (is it installed?):\n" + log);
      }
    }
  }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;
  ~redis_server() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }
  const std::string& dir() const noexcept { return dir_; }

  // Stops the server (SIGTERM, then SIGKILL after 10 s) and reaps it.
  void stop() { signal_and_reap(SIGTERM); }
  // Kills the server at once (SIGKILL) and reaps it.
  void kill() { signal_and_reap(SIGKILL); }
  // Starts the server again on the same port, in the same directory.
  void start() {
    if (running()) return;
    if (!try_start()) throw std::runtime_error("redis_server: redis-server did not restart:\n" + log_tail());
  }

  // A raw RESP request answered by the server ("" if nothing answered).
  std::string raw(const std::string& request) const { return redis_raw_request(port_, request); }

 private:
  std::string log_path() const { return dir_ + "/redis.log"; }
  std::string log_tail() const {
    std::ifstream f(log_path());
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
  }

  bool try_start() {
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                     "--save", "", "--dir", dir_, "--logfile", log_path(),
                                     "--daemonize", "no", "--databases", "1"};
    if (opts_.appendonly) {
      args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "everysec"});
    } else {
      args.insert(args.end(), {"--appendonly", "no"});
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("redis_server: fork failed");
    if (pid == 0) {
      // Only async-signal-safe calls here: the caller may have threads.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed caller leaves no server behind
      if (::getppid() != parent) ::_exit(127);
      const int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
      }
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    // Polls with a generous bound until the server answers PING.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: the port may be taken
        pid_ = -1;
        return false;
      }
      if (raw("PING\r\n").rfind("+PONG", 0) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    signal_and_reap(SIGKILL);
    return false;
  }

  void signal_and_reap(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const pid_t r = ::waitpid(pid_, nullptr, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
  }

  options opts_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace corio::testing
