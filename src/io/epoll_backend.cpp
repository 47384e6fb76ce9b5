// The epoll backend. At this stage it only sleeps until a timer is due or
// another thread wakes the loop; sockets and pipes arrive with the I/O layer.
//
// Facts this relies on:
// - epoll_pwait2 takes a timespec, so timers are honoured to the nanosecond
//   (epoll_wait rounds to milliseconds). It exists since Linux 5.11; on older
//   kernels (ENOSYS) the millisecond call is used, rounded up so that the loop
//   never wakes before a timer is due and spins.
// - An eventfd in the epoll set is the cross-thread wake-up: writing 1 makes
//   it readable; reading drains it.
#include <corio/detail/loop_core.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace corio::detail {

namespace {

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

class epoll_backend final : public io_backend {
 public:
  epoll_backend() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw_errno("corio: epoll_create1");
    ev_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev_ < 0) {
      const int err = errno;
      ::close(ep_);
      throw std::system_error(err, std::generic_category(), "corio: eventfd");
    }
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = ev_;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, ev_, &e) < 0) {
      const int err = errno;
      ::close(ev_);
      ::close(ep_);
      throw std::system_error(err, std::generic_category(), "corio: epoll_ctl(eventfd)");
    }
  }
  ~epoll_backend() override {
    ::close(ev_);
    ::close(ep_);
  }

  const char* name() const noexcept override { return "epoll"; }

  void wait(loop_core&, std::int64_t timeout_ns) override {
    epoll_event events[64];
    int n;
    if (have_pwait2_) {
      timespec ts{};
      timespec* tp = nullptr;
      if (timeout_ns >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
        tp = &ts;
      }
      n = ::epoll_pwait2(ep_, events, 64, tp, nullptr);
      if (n < 0 && errno == ENOSYS) {
        have_pwait2_ = false;
        return wait_ms(timeout_ns);
      }
    } else {
      return wait_ms(timeout_ns);
    }
    handle(events, n);
  }

  void wake() noexcept override {
    const std::uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the loop will wake anyway.
    [[maybe_unused]] auto r = ::write(ev_, &one, sizeof one);
  }

 private:
  void wait_ms(std::int64_t timeout_ns) {
    epoll_event events[64];
    const int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    handle(events, ::epoll_wait(ep_, events, 64, ms));
  }

  void handle(const epoll_event* events, int n) {
    if (n < 0) {
      if (errno == EINTR) return;
      throw_errno("corio: epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == ev_) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(ev_, &v, sizeof v);
      }
    }
  }

  int ep_ = -1;
  int ev_ = -1;
  bool have_pwait2_ = true;
};

}  // namespace

std::unique_ptr<io_backend> make_default_backend() { return std::make_unique<epoll_backend>(); }

}  // namespace corio::detail
