// David Beazley's coroutine pipeline ("A Curious Course on Coroutines and
// Concurrency"): lines flow from a source through two grep stages into a
// printer, with send() and close(); the source reads two "files" with
// `yield from`, which also hands back each file's line count.
//
//   def file_lines(name, lines):
//       for line in lines:
//           yield line
//       return len(lines)
//
//   def all_files():
//       for name, lines in FILES:
//           n = yield from file_lines(name, lines)
//           print(f"({name}: {n} lines)")
//
//   @coroutine                      # calls next() once: the generator is primed
//   def grep(pattern, target):
//       try:
//           while True:
//               line = (yield)
//               if pattern in line:
//                   target.send(line)
//       except GeneratorExit:
//           print(f"grep {pattern!r}: closed")
//           target.close()
//
//   @coroutine
//   def printer():
//       try:
//           while True:
//               print("> " + (yield))
//       except GeneratorExit:
//           print("printer: closed")
//
//   p = grep("python", grep("nice", printer()))
//   for line in all_files():
//       p.send(line)
//   p.close()
//
// Usage: generator_grep_pipeline [scale] [--virtual]   (nothing waits: both are ignored)
#include <corio/generator.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using lines = std::vector<std::string_view>;
using line_sink = corio::generator<void, std::string_view>;

corio::generator<std::string_view, void, int> file_lines(lines content) {
  for (std::string_view line : content) co_yield line;
  co_return static_cast<int>(content.size());
}

corio::generator<std::string_view> all_files() {
  const std::pair<const char*, lines> files[] = {
      {"a.txt", {"python is nice", "c++ is fast", "python is slow"}},
      {"b.txt", {"generators are nice", "nice python", "the end"}},
  };
  for (const auto& [name, content] : files) {
    const int n = co_yield corio::yield_from(file_lines(content));
    std::printf("(%s: %d lines)\n", name, n);
  }
}

// Python's @coroutine decorator: runs the generator to its first yield.
line_sink primed(line_sink g) {
  g.next();
  return g;
}

line_sink grep(std::string pattern, line_sink target) {
  try {
    for (;;) {
      std::string_view* line = co_yield {};
      if (line && line->find(pattern) != std::string_view::npos) target.send(*line);
    }
  } catch (const corio::generator_exit&) {
    std::printf("grep '%s': closed\n", pattern.c_str());
    target.close();
  }
}

line_sink printer() {
  try {
    for (;;) {
      std::string_view* line = co_yield {};
      if (line) std::printf("> %.*s\n", static_cast<int>(line->size()), line->data());
    }
  } catch (const corio::generator_exit&) {
    std::printf("printer: closed\n");
  }
}

}  // namespace

int main() {
  line_sink p = primed(grep("python", primed(grep("nice", primed(printer())))));
  for (std::string_view line : all_files()) p.send(line);
  p.close();
}
