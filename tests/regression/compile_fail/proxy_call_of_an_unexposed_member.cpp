// Each CASE but 0 must fail to compile with the static_assert message that
// tests/CMakeLists.txt expects: a proxy calls only the members its type
// exposes (MG-08). CASE 0 spells it correctly.
#include <corio/multiprocessing/managers.hpp>

struct counter {
  int n = 0;
  int increment(int by) { return n += by; }
  int get() const { return n; }
  void reset() { n = 0; }
};
CORIO_EXPOSE(counter, increment, get)

struct hidden {
  int f() { return 1; }
};

void use(const corio::multiprocessing::proxy<counter>& p, const corio::multiprocessing::proxy<hidden>& h) {
  (void)h;
#if CASE == 0
  (void)p.call<&counter::increment>(1);
  (void)p.call_async<&counter::get>();
#elif CASE == 1
  p.call<&counter::reset>();
#elif CASE == 2
  (void)p.call_async<&counter::reset>();
#elif CASE == 3
  (void)h.call<&hidden::f>();
#endif
}
