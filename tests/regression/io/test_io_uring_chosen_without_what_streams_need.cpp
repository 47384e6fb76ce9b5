// io_uring was chosen whenever a ring could be made, also where the kernel
// (or a seccomp profile) lacks provided-buffer rings or multishot receive,
// which streams need: every stream read then failed. The backend is now
// chosen on what the kernel offers, and a kernel without those features gets
// epoll. An old kernel is emulated in a child process (gtest's threadsafe
// death tests run it as a fresh process, so nothing was probed before its
// filter is in place, and the test process itself stays unfiltered):
//  - no provided-buffer rings: io_uring_register refuses its opcodes from 20
//    on with EINVAL, as Linux 5.15 does;
//  - no multishot: the flags asking RECV and ACCEPT for multishot results
//    are refused with EINVAL, as Linux 5.19 does for RECV. A seccomp filter
//    cannot read the submission ring, so it traps io_uring_enter and the
//    trap handler marks each multishot request in the ring with a flag the
//    kernel does not know, which it refuses the same way, before making the
//    call itself.
// Each child runs a stream round trip under CORIO_DEBUG=1 and exits 0 if it
// read back what it sent on epoll; the debug note on stderr says why.
#include <corio/events.hpp>
#include <corio/sock_ops.hpp>
#include <corio/socket.hpp>
#include <corio/streams.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace {

corio::task<std::string> round_trip() {
  auto [a, b] = corio::socketpair();
  auto [reader, writer] = co_await corio::open_connection(std::move(a));
  co_await corio::sock_sendall(b, "hello");
  co_return co_await reader.readexactly(5);
}

// Runs in the child: a loop as a program would make it, on what the filter
// leaves of io_uring; exits 0 if the round trip worked on epoll.
[[noreturn]] void round_trip_in_child(void (*emulate_old_kernel)()) {
  ::unsetenv("CORIO_BACKEND");  // ctest's choice: the loop must choose here
  ::setenv("CORIO_DEBUG", "1", 1);
  emulate_old_kernel();
  try {
    corio::event_loop loop;
    const std::string backend = loop.backend_name();
    const std::string got = loop.run_until_complete(round_trip());
    std::fprintf(stderr, "child: backend %s, read '%s'\n", backend.c_str(), got.c_str());
    std::_Exit(backend == "epoll" && got == "hello" ? 0 : 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
  }
  std::_Exit(2);
}

// With CORIO_BACKEND=io_uring the same kernel is refused, saying why.
[[noreturn]] void forced_io_uring_in_child(void (*emulate_old_kernel)()) {
  ::setenv("CORIO_BACKEND", "io_uring", 1);
  emulate_old_kernel();
  try {
    corio::event_loop loop;
    std::fprintf(stderr, "child: backend %s\n", loop.backend_name());
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
    std::_Exit(0);
  }
  std::_Exit(1);
}

void install_filter(sock_filter* f, unsigned short n) {
  sock_fprog prog{n, f};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    std::perror("child: seccomp");
    std::_Exit(3);
  }
}

// Linux 5.15's io_uring_register: no opcode from IORING_REGISTER_RING_FDS
// (20) on, so no provided-buffer rings (22).
void refuse_new_register_opcodes() {
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 20, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  install_filter(f, sizeof f / sizeof f[0]);
}

#if defined(__x86_64__)

// The only io_uring_enter the filter lets through: the one made here, by
// the trap handler (the filter knows it by the address after its syscall
// instruction).
extern "C" long corio_test_uring_enter(long fd, long to_submit, long min_complete, long flags, long sig, long size);
extern "C" const char corio_test_uring_enter_ret[];
asm(R"(
  .text
  .globl corio_test_uring_enter
  .type corio_test_uring_enter, @function
corio_test_uring_enter:
  mov %rcx, %r10
  mov $426, %eax
  syscall
  .globl corio_test_uring_enter_ret
corio_test_uring_enter_ret:
  ret
  .size corio_test_uring_enter, . - corio_test_uring_enter
)");
static_assert(__NR_io_uring_enter == 426);

// Marks every multishot RECV or ACCEPT in the submission rings of this
// process with an ioprio flag the kernel does not know. The rings are found
// in /proc/self/maps (io_uring's SQE array is mapped at IORING_OFF_SQES).
// Only raw system calls and static memory: this runs in a signal handler.
void refuse_multishot_in_submission_rings() {
  static char buf[1 << 18];
  const int fd = static_cast<int>(::syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (fd < 0) return;
  std::size_t n = 0;
  for (;;) {
    const long r = ::syscall(SYS_read, fd, buf + n, sizeof buf - 1 - n);
    if (r <= 0) break;
    n += static_cast<std::size_t>(r);
  }
  ::syscall(SYS_close, fd);
  buf[n] = '\0';
  for (char* line = buf; line && *line;) {
    char* end = std::strchr(line, '\n');
    if (end) *end = '\0';
    // "start-end perms offset dev inode name"
    char* p = line;
    const std::uintptr_t start = std::strtoull(p, &p, 16);
    const std::uintptr_t stop = std::strtoull(p + 1, &p, 16);
    while (*p == ' ') ++p;
    while (*p && *p != ' ') ++p;  // perms
    const unsigned long long offset = std::strtoull(p, &p, 16);
    if (offset == IORING_OFF_SQES && std::strstr(p, "anon_inode:[io_uring]")) {
      for (std::uintptr_t a = start; a + sizeof(io_uring_sqe) <= stop; a += sizeof(io_uring_sqe)) {
        auto* sqe = reinterpret_cast<io_uring_sqe*>(a);
        const bool multi = (sqe->opcode == IORING_OP_RECV && (sqe->ioprio & IORING_RECV_MULTISHOT)) ||
                           (sqe->opcode == IORING_OP_ACCEPT && (sqe->ioprio & IORING_ACCEPT_MULTISHOT));
        if (multi) sqe->ioprio |= 0x4000;
      }
    }
    line = end ? end + 1 : nullptr;
  }
}

void on_sigsys(int, siginfo_t*, void* context) {
  greg_t* r = static_cast<ucontext_t*>(context)->uc_mcontext.gregs;
  refuse_multishot_in_submission_rings();
  r[REG_RAX] = corio_test_uring_enter(r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
}

void refuse_multishot_requests() {
  struct sigaction sa{};
  sa.sa_sigaction = &on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  ::sigaction(SIGSYS, &sa, nullptr);
  const auto ret = reinterpret_cast<std::uint64_t>(corio_test_uring_enter_ret);
  const auto lo = static_cast<std::uint32_t>(ret);
  const auto hi = static_cast<std::uint32_t>(ret >> 32);
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 7),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, instruction_pointer)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, lo, 0, 2),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, instruction_pointer) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, hi, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  install_filter(f, sizeof f / sizeof f[0]);
}

#endif

class IoUringChosenWithoutWhatStreamsNeed : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

}  // namespace

TEST_F(IoUringChosenWithoutWhatStreamsNeed, without_provided_buffer_rings_streams_run_on_epoll) {
  EXPECT_EXIT(round_trip_in_child(&refuse_new_register_opcodes), ::testing::ExitedWithCode(0),
              "io_uring is not used because io_uring_register_buf_ring refuses provided-buffer rings.*"
              "child: backend epoll, read 'hello'");
}

TEST_F(IoUringChosenWithoutWhatStreamsNeed, forcing_io_uring_without_provided_buffer_rings_says_what_is_missing) {
  EXPECT_EXIT(forced_io_uring_in_child(&refuse_new_register_opcodes), ::testing::ExitedWithCode(0),
              "child: corio: CORIO_BACKEND=io_uring, but io_uring_register_buf_ring refuses provided-buffer rings");
}

#if defined(__x86_64__)

TEST_F(IoUringChosenWithoutWhatStreamsNeed, without_multishot_requests_streams_run_on_epoll) {
  EXPECT_EXIT(round_trip_in_child(&refuse_multishot_requests), ::testing::ExitedWithCode(0),
              "io_uring is not used because multishot receive is refused.*child: backend epoll, read 'hello'");
}

TEST_F(IoUringChosenWithoutWhatStreamsNeed, forcing_io_uring_without_multishot_requests_says_what_is_missing) {
  EXPECT_EXIT(forced_io_uring_in_child(&refuse_multishot_requests), ::testing::ExitedWithCode(0),
              "child: corio: CORIO_BACKEND=io_uring, but multishot receive is refused");
}

#endif
