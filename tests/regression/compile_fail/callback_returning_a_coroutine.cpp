// Each CASE but 0 must fail to compile with the static_assert message that
// tests/CMakeLists.txt expects: a callback whose result is dropped must not
// return a coroutine, which would be created and never run. CASE 0 is the
// same code spelled correctly, and must compile.
#include <corio/corio.hpp>

#include <chrono>

corio::task<> work() { co_return; }

void use(corio::event_loop& loop, corio::future<int>& fut, corio::any_task& t, corio::futures::future<int>& cf) {
  using namespace std::chrono_literals;
#if CASE == 0
  loop.call_soon([&loop] { loop.create_task(work()); });
  loop.call_later(1ms, [&loop] { loop.create_task(work()); });
  loop.call_at(loop.time(), [&loop] { loop.create_task(work()); });
  loop.call_soon_threadsafe([&loop] { loop.create_task(work()); });
  fut.add_done_callback([&loop](corio::future<int>&) { loop.create_task(work()); });
  t.add_done_callback([&loop](corio::any_task&) { loop.create_task(work()); });
  cf.add_done_callback([](const corio::futures::future<int>&) {});
  corio::threading::thread th([] { corio::run(work()); });
  corio::threading::timer tm(1ms, [] { corio::run(work()); });
#elif CASE == 1
  loop.call_soon(work);
#elif CASE == 2
  loop.call_later(1ms, [] { return work(); });
#elif CASE == 3
  loop.call_at(loop.time(), work);
#elif CASE == 4
  loop.call_soon_threadsafe(work);
#elif CASE == 5
  fut.add_done_callback([](corio::future<int>&) { return work(); });
#elif CASE == 6
  t.add_done_callback([](corio::any_task&) { return work(); });
#elif CASE == 7
  cf.add_done_callback([](const corio::futures::future<int>&) { return work(); });
#elif CASE == 8
  corio::threading::thread th(work);
#elif CASE == 9
  corio::threading::timer tm(1ms, work);
#elif CASE == 10
  loop.call_soon([](int) -> corio::task<> { co_return; }, 1);
#endif
  (void)loop, (void)fut, (void)t, (void)cf;
}

int main() {}
