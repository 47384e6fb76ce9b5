// The fork server looked up a child it had just started among the pollfds
// of the round that started it, which had none for it: a read past the
// array (AddressSanitizer: heap-buffer-overflow in serve), and with garbage
// there, a blocking reap of a child still running that stalled the server.
// Several children started back to back, while the earlier ones end, hit it.
#include "multiprocessing_util.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

namespace mp = corio::multiprocessing;
using corio_test::mp_test;
using namespace std::chrono_literals;

namespace {
void quick() {}
void wait_for(mp::connection c) { (void)c.recv<int>(); }
}  // namespace

TEST_F(mp_test, fork_server_starts_and_reaps_children_started_in_a_row) {
  const auto ctx = mp::get_context("forkserver");
  std::vector<std::unique_ptr<mp::process>> ps;
  std::vector<mp::connection> go;
  for (int i = 0; i < 12; ++i) {
    if (i % 2 == 0) {
      ps.push_back(std::make_unique<mp::process>(quick));  // ends while the next ones start
    } else {
      auto [r, w] = mp::pipe();
      ps.push_back(std::make_unique<mp::process>(wait_for, std::move(r)));
      go.push_back(std::move(w));
    }
    ctx.start(*ps.back());
  }
  for (auto& w : go) w.send(1);
  for (auto& p : ps) {
    p->join(60s);
    EXPECT_EQ(p->exitcode(), 0) << p->name();
  }
}

CORIO_MP_TEST_MAIN()
