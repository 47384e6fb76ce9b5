// Each CASE but 0 must fail to compile with the static_assert message that
// tests/CMakeLists.txt expects: a multiprocessing value or array holds a
// trivially copyable, non-pointer T (it is copied byte for byte between
// processes), under a lock the other processes see. CASE 0 is the same code
// spelled correctly, and must compile.
#include <corio/multiprocessing/sharedctypes.hpp>
#include <corio/threading/lock.hpp>

#include <string>

namespace mp = corio::multiprocessing;

struct plain {
  int a;
  double b;
};

void use() {
#if CASE == 0
  mp::value<int> v(1);
  mp::array<plain> a(3);
  mp::raw_value<long> r(2);
  mp::raw_array<char> c(4);
  mp::value<int, mp::lock> locked(1, mp::lock());
#elif CASE == 1
  mp::value<std::string> v("no");
#elif CASE == 2
  mp::raw_array<int*> a(3);
#elif CASE == 3
  corio::threading::lock lk;
  mp::value<int, corio::threading::lock> v(1);
#elif CASE == 4
  mp::array<std::string> a(2);
#endif
}
