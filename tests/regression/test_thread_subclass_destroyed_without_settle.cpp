// A threading::thread subclass overriding run(), started and destroyed
// without joining it and without `settle()` in its destructor, let run() go on
// with a destroyed object (or the base run() run instead, as the dynamic type
// changed under it), silently and in every build. The base destructor cannot
// wait safely then (the subclass's members are gone), so it now stops the
// process with a message naming the thread, whether run() is still going or
// has already finished; joining first, or settle() in the subclass's
// destructor, keep working.
#include "sanitizers.hpp"

#include <corio/threading/event.hpp>
#include <corio/threading/thread.hpp>
#include <corio/threading/timer.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

namespace th = corio::threading;
using namespace std::chrono_literals;

namespace {

// Destroying a running subclass is itself a data race on its vptr (run() was
// called through it on the other thread), so under ThreadSanitizer its report
// may stop the process before the base destructor's message: either is the
// bug caught.
#if CORIO_TEST_TSAN
#define CORIO_OR_TSAN_VPTR_RACE(pattern) "(" pattern "|ThreadSanitizer: data race on vptr)"
#else
#define CORIO_OR_TSAN_VPTR_RACE(pattern) pattern
#endif

// Python: class Worker(threading.Thread): def run(self): ... (no settle()).
class worker : public th::thread {
 public:
  worker(std::string name, th::event& go, th::event& ran, std::optional<bool> daemon = std::nullopt)
      : thread(th::thread_options{std::move(name), daemon}), go_(go), ran_(ran) {}
  void run() override {
    go_.wait(10s);  // bounded: without the check the test must still end
    length_ = msg_.size();
    ran_.set();
  }
  std::size_t length() const { return length_; }

 private:
  th::event& go_;
  th::event& ran_;
  std::string msg_ = std::string(100, 'x');
  std::size_t length_ = 0;
};

// The same with the destructor the documentation asks for.
class settled_worker : public worker {
 public:
  using worker::worker;
  ~settled_worker() override { settle(); }
};

}  // namespace

TEST(ThreadSubclassWithoutSettleDeathTest, destroying_it_while_run_goes_on_stops_the_process_naming_the_thread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static th::event go;  // outlives the object, as run() waits on it
        static th::event ran;
        {
          worker w("still-running", go, ran);
          w.start();
        }
        go.set();
        std::fputs("the destroyed object's run() went on\n", stderr);
      },
      CORIO_OR_TSAN_VPTR_RACE("thread 'still-running' \\(.*worker\\) was destroyed while it was started and not joined"));
}

TEST(ThreadSubclassWithoutSettleDeathTest, destroying_it_after_run_returned_without_a_join_stops_the_process_too) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static th::event go;
        static th::event ran;
        go.set();
        {
          worker w("already-done", go, ran);
          w.start();
          ran.wait(10s);  // run() has (all but) returned: still a bug, caught every time
        }
        std::fputs("destroyed without a join\n", stderr);
      },
      CORIO_OR_TSAN_VPTR_RACE("thread 'already-done' .*call settle\\(\\) first in the destructor"));
}

TEST(ThreadSubclassWithoutSettleDeathTest, a_daemon_subclass_without_settle_is_caught_as_well) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static th::event go;
        static th::event ran;
        {
          worker w("daemon-worker", go, ran, true);
          w.start();
        }
        go.set();
        std::fputs("the destroyed daemon object's run() went on\n", stderr);
      },
      CORIO_OR_TSAN_VPTR_RACE("thread 'daemon-worker'.*not joined"));
}

TEST(ThreadSubclassWithoutSettle, joining_before_destruction_needs_no_settle) {
  th::event go;
  th::event ran;
  worker w("joined", go, ran);
  w.start();
  go.set();
  w.join();
  EXPECT_EQ(w.length(), 100u);
  EXPECT_FALSE(w.is_alive());
}

TEST(ThreadSubclassWithoutSettle, settle_in_the_destructor_waits_for_run_before_members_go) {
  for (const bool daemon : {false, true}) {
    th::event go;
    th::event ran;
    {
      th::timer opener(5ms, [&go] { go.set(); });  // destroyed (joined) after w
      settled_worker w("settled", go, ran, daemon);
      w.start();
      opener.start();
    }  // ~settled_worker waits for run(), which waits for the opener
    EXPECT_TRUE(ran.is_set()) << "daemon=" << daemon;  // run() ended before ~settled_worker returned
  }
}

TEST(ThreadSubclassWithoutSettle, a_plain_thread_with_a_target_is_still_joined_by_its_destructor) {
  std::atomic<int> ran{0};
  th::event go;
  {
    th::thread t([&] {
      go.wait(10s);
      ran.store(1);
    });
    t.start();
    go.set();
  }
  EXPECT_EQ(ran.load(), 1);
}
