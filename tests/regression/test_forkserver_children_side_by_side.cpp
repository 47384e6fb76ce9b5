// The fork server polls its socket and the pidfds of its running children.
// A request handled in a round added a child that had no entry in that
// round's poll list, and the loop over the children read past the list's
// end (heap overflow under ASan; in a plain build a garbage entry could make
// the server reap the new child at once, blocking until it ended). Here a
// second child is started while the first still runs, then both end.
#include "multiprocessing_util.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;

// Waits for a message, then answers it plus one.
void answer(mp::connection c) { c.send(c.recv<std::int64_t>() + 1); }

}  // namespace

TEST_F(mp_test, a_forkserver_child_started_while_another_runs_leaves_both_running_and_reaped) {
  const mp::context ctx = mp::get_context("forkserver");
  auto [a, a_child] = mp::pipe();
  auto [b, b_child] = mp::pipe();
  mp::process first(answer, std::move(a_child));
  ctx.start(first);
  mp::process second(answer, std::move(b_child));
  ctx.start(second);  // the server adds it while `first` runs
  mp::process third([] {});
  ctx.start(third);  // and a third, polled beside both
  b.send(std::int64_t{20});
  EXPECT_EQ(b.recv<std::int64_t>(), 21);
  a.send(std::int64_t{10});
  EXPECT_EQ(a.recv<std::int64_t>(), 11);
  for (mp::process* p : {&first, &second, &third}) {
    p->join(kBound);
    EXPECT_EQ(p->exitcode(), 0) << p->name();
  }
}

CORIO_MP_TEST_MAIN()
