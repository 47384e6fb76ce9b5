// threading.local, as in its own tutorial (the _threading_local docstring):
// an object whose attributes each thread sees separately; then the everyday
// use, one session per worker thread, made in each thread on first use.
//
//   mydata = threading.local()
//   mydata.number = 42
//   def f():
//       log.append(sorted(vars(mydata).items()))   # [] : nothing set here yet
//       mydata.number = 11
//       log.append(mydata.number)
//   t = threading.Thread(target=f); t.start(); t.join()
//   log, mydata.number                              # [[], 11], 42
//
//   class Session(threading.local):                 # __init__ runs in each thread
//       def __init__(self): self.owner = current_thread().name; self.requests = 0
//   session = Session()
//   def worker(urls):
//       for url in urls: session.requests += 1      # this thread's session
//
// Usage: thread_local_data
#include <corio/corio.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace th = corio::threading;

namespace {

std::vector<std::string> closed;  // what the sessions' destructors report
th::lock closed_lock;

// What Python's requests.Session would be: one per thread, never shared.
class session {
 public:
  // Python: Session.__init__, run in each thread on its first use.
  session() : owner_(th::current_thread().name()) {}
  session(const session&) = delete;
  ~session() {
    auto guard = closed_lock.scoped();
    closed.push_back("session of " + owner_ + " closed after " + std::to_string(requests_) + " requests");
  }
  void get(const std::string& /*url*/) { ++requests_; }

 private:
  std::string owner_;
  int requests_ = 0;
};

}  // namespace

int main() {
  // -- the docstring: each thread sees its own attributes ----------------------------
  th::local<std::optional<int>> mydata;  // std::nullopt: "no attribute yet"
  *mydata = 42;
  std::vector<std::string> log;
  th::thread t([&] {
    log.push_back(*mydata ? "number=" + std::to_string(**mydata) : "nothing set in this thread");
    *mydata = 11;
    log.push_back("number=" + std::to_string(**mydata));
  });
  t.start();
  t.join();
  for (const auto& line : log) std::printf("in the thread: %s\n", line.c_str());
  std::printf("in the main thread: number=%d\n", **mydata);

  // -- one session per thread, made on first use, closed when its thread ends --------
  th::local<session> current_session;
  const std::vector<std::string> urls = {"/a", "/b", "/c", "/d", "/e"};
  std::vector<std::unique_ptr<th::thread>> workers;
  for (int w = 1; w <= 2; ++w) {
    workers.push_back(std::make_unique<th::thread>(th::thread_options{.name = "worker-" + std::to_string(w)},
                                                   [&current_session, &urls, w] {
                                                     for (std::size_t i = w - 1; i < urls.size(); i += 2)
                                                       current_session->get(urls[i]);
                                                   }));
  }
  for (auto& w : workers) w->start();
  for (auto& w : workers) w->join();
  std::sort(closed.begin(), closed.end());  // the workers ended in either order
  for (const auto& line : closed) std::printf("%s\n", line.c_str());
  std::printf("the main thread never used a session: %zu closed\n", closed.size());
}
