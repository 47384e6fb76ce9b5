// subprocess.Popen with pipes (Python docs, subprocess "Replacing Older
// Functions"): a shell pipeline whose stderr joins its stdout, collected
// with communicate(); then a child fed through stdin=PIPE by
// communicate(input).
//
//   p = Popen("echo out; echo err >&2; ls /zzz", shell=True,
//             stdout=PIPE, stderr=STDOUT)
//   output, _ = p.communicate()
//
//   p = Popen(["sort"], stdin=PIPE, stdout=PIPE)
//   output, _ = p.communicate(input=b"pear\napple\nfig\n")
//
// Usage: subprocess_popen   (blocking calls: no event loop)
#include <corio/subprocess/popen.hpp>

#include <cstdio>
#include <string>

namespace sp = corio::subprocess;

int main() {
  {
    sp::popen p("echo out; echo err >&2; LC_ALL=C ls /zzz",
                {.stdout = sp::pipe, .stderr = sp::stdout, .shell = true});
    const auto [out, err] = p.communicate();
    std::printf("shell pipeline exited with %d, stderr %s, merged output:\n%s", *p.returncode(),
                err ? "captured apart" : "merged", out->c_str());
  }
  {
    sp::popen p({"sort"}, {.stdin = sp::pipe, .stdout = sp::pipe});
    const auto [out, err] = p.communicate("pear\napple\nfig\n");
    std::printf("sort exited with %d:\n%s", *p.returncode(), out->c_str());
  }
}
