// The task queue on Redis Streams: the submitter (task_queue.hpp). The
// layout of the messages is docs/design.md's "The task queue on Redis Streams".
#include "stream_entry.hpp"

#include <corio/exceptions.hpp>
#include <corio/timeouts.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace corio::distributed {

namespace {
namespace mp = corio::multiprocessing;
}  // namespace

namespace detail {

struct submitter_impl : std::enable_shared_from_this<submitter_impl> {
  task_queue_options opts;
  redis_client cmd;
  redis_client reader;  // its XREAD BLOCK holds the connection
  std::string id = random_hex(8);
  std::string tasks_key;
  std::string reply_key;
  std::uint64_t next = 0;
  // By the number in the task id ("<submitter id>-<n>"): no string to hash
  // or to keep per task.
  std::unordered_map<std::uint64_t, future<std::string>> waiting;
  task<void> reading;
  bool closed = false;

  explicit submitter_impl(task_queue_options o)
      : opts(std::move(o)),
        cmd(opts.redis),
        reader(opts.redis),
        tasks_key(opts.name + ":tasks"),
        reply_key(opts.name + ":replies:" + id) {}

  // Reads the reply stream from its start ("0": nothing sent to it can be
  // missed, whenever the read starts) and hands each result to its future.
  static task<void> read_replies(std::weak_ptr<submitter_impl> weak) {
    std::string last = "0";
    for (;;) {
      future<redis_reply> f;
      {
        auto s = weak.lock();
        if (!s || s->closed) co_return;
        f = s->reader.command("XREAD", "COUNT", 1000, "BLOCK", 0, "STREAMS", s->reply_key, last);
      }
      redis_reply r;
      try {
        r = co_await std::move(f);  // moved out, not copied: a reply carries up to 1000 results
      } catch (const broker_unavailable&) {
        continue;  // the client reconnects; the stream keeps what came meanwhile
      }
      auto s = weak.lock();
      if (!s || s->closed) co_return;
      if (r.is_nil()) continue;
      for (const entry& e : stream_entries(r)) {
        last = e.id;
        const std::string* tid = e.get("id");
        if (!tid) continue;
        const std::optional<std::uint64_t> n = s->number_of(*tid);
        if (!n) continue;  // not ours
        auto it = s->waiting.find(*n);
        if (it == s->waiting.end()) continue;  // a duplicate (at-least-once), or not ours
        future<std::string> fut = std::move(it->second);
        s->waiting.erase(it);
        if (fut.done()) continue;
        const std::string* status = e.get("status");
        const std::string* result = e.get("result");
        if (status && *status == "ok" && result) {
          fut.set_result(*result);
          continue;
        }
        std::exception_ptr err;
        try {
          if (status && *status == "error" && result) {
            err = mp::decode<std::exception_ptr>(*result);
          } else if (result) {
            err = std::make_exception_ptr(task_failed("task " + *tid + ": " + mp::decode<std::string>(*result)));
          }
        } catch (const std::exception&) {
        }
        if (!err) err = std::make_exception_ptr(task_failed("task " + *tid + " failed (its reply does not decode)"));
        fut.set_exception(err);
      }
    }
  }

  // The n of a task id of this submitter's.
  std::optional<std::uint64_t> number_of(std::string_view tid) const noexcept {
    if (tid.size() <= id.size() + 1 || tid.compare(0, id.size(), id) != 0 || tid[id.size()] != '-') return {};
    std::uint64_t n = 0;
    const char* end = tid.data() + tid.size();
    if (std::from_chars(tid.data() + id.size() + 1, end, n).ptr != end) return {};
    return n;
  }

  // The task id of number n, in `buf`.
  std::string_view task_id(std::uint64_t n, char (&buf)[64]) const noexcept {
    std::copy(id.begin(), id.end(), buf);  // random_hex(8): 16 characters
    buf[id.size()] = '-';
    char* end = std::to_chars(buf + id.size() + 1, buf + sizeof buf, n).ptr;
    return {buf, static_cast<std::size_t>(end - buf)};
  }

  future<std::string> submit(std::string fn, std::string args) {
    if (closed) throw std::runtime_error("submitter for " + tasks_key + ": used after close()");
    const std::uint64_t n = next++;
    future<std::string> result = get_running_loop().create_future<std::string>();
    waiting.emplace(n, result);
    add(submission{n, std::move(fn), std::move(args), 0});
    return result;
  }

  struct submission {
    std::uint64_t n;
    std::string fn, args;
    int tries;
  };

  // The XADDs of one loop iteration are checked together once the last
  // one's reply is in (a connection answers in order): no callback and no
  // loop turn per task.
  using added_batch = std::vector<std::pair<submission, future<redis_reply>>>;
  std::shared_ptr<added_batch> adding;

  // XADD, again if the connection was lost with it in flight: it may have
  // been added twice then, which the task id makes harmless (the first
  // result is kept). Without a connection within unavailable_wait, the
  // task's result raises broker_unavailable.
  void add(submission sm) {
    ++sm.tries;
    char buf[64];
    // No `attempt` field: absent means the first run (docs/design.md).
    future<redis_reply> added =
        cmd.command("XADD", tasks_key, "*", "id", task_id(sm.n, buf), "fn", sm.fn, "args", sm.args, "reply", reply_key);
    if (!adding) {
      adding = std::make_shared<added_batch>();
      get_running_loop().call_soon([weak = weak_from_this()] {
        if (auto s = weak.lock()) s->seal_batch();
      });
    }
    adding->emplace_back(std::move(sm), std::move(added));
  }

  void seal_batch() {
    std::shared_ptr<added_batch> b = std::move(adding);
    adding.reset();
    if (!b || b->empty()) return;
    future<redis_reply> last = b->back().second;
    last.add_done_callback([weak = weak_from_this(), b](future<redis_reply>&) {
      for (auto& [sm, f] : *b) {
        if (!f.done()) {  // not expected, as replies come in order: then checked on its own
          f.add_done_callback([weak, sm = sm](future<redis_reply>& g) mutable { added(weak, std::move(sm), g); });
          continue;
        }
        added(weak, std::move(sm), f);
      }
    });
  }

  static void added(const std::weak_ptr<submitter_impl>& weak, submission sm, future<redis_reply>& f) {
    if (f.cancelled()) return;
    const std::exception_ptr e = f.exception();
    if (!e) return;
    auto s = weak.lock();
    if (!s || s->closed) return;
    auto it = s->waiting.find(sm.n);
    if (it == s->waiting.end()) return;
    try {
      std::rethrow_exception(e);
    } catch (const broker_unavailable& b) {
      if (b.sent() && sm.tries < 5) return s->add(std::move(sm));
    } catch (...) {
    }
    future<std::string> fut = std::move(it->second);
    s->waiting.erase(it);
    if (!fut.done()) fut.set_exception(e);
  }

  void close() noexcept {
    if (closed) return;
    closed = true;
    if (reading) reading.cancel();
    for (auto& [n, fut] : waiting) {
      if (!fut.done()) fut.cancel("submitter closed");
    }
    waiting.clear();
    reader.close();
    cmd.close();
  }
};

}  // namespace detail

submitter::submitter(task_queue_options opts) : impl_(std::make_shared<detail::submitter_impl>(std::move(opts))) {
  impl_->reading = get_running_loop().create_task(detail::submitter_impl::read_replies(impl_));
}
submitter::~submitter() { close(); }
future<std::string> submitter::submit_raw(std::string fn, std::string args) {
  return impl_->submit(std::move(fn), std::move(args));
}
const std::string& submitter::reply_stream() const noexcept { return impl_->reply_key; }
std::size_t submitter::pending() const noexcept { return impl_->waiting.size(); }
void submitter::close() noexcept { impl_->close(); }

}  // namespace corio::distributed
