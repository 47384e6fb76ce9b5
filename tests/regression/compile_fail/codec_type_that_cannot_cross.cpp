// Each CASE but 0 must fail to compile with the static_assert message that
// tests/CMakeLists.txt expects: a value with no codec cannot cross a
// process, and the error names its type. CASE 0 spells it correctly.
#include <corio/multiprocessing/codec.hpp>

#include <string>
#include <vector>

struct plain_struct {
  int x = 0;
};

struct with_codec {
  int x = 0;
  CORIO_CODEC(x)
};

void use() {
  namespace mp = corio::multiprocessing;
#if CASE == 0
  (void)mp::encode(with_codec{});
  (void)mp::decode<std::vector<with_codec>>("");
#elif CASE == 1
  (void)mp::encode(plain_struct{});
#elif CASE == 2
  (void)mp::decode<std::vector<plain_struct>>("");
#endif
}
