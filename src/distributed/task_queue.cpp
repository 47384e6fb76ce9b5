// The task queue on Redis Streams: submitter and worker. The layout of the
// messages is docs/design.md's "The task queue on Redis Streams".
#include <corio/distributed/task_queue.hpp>
#include <corio/exceptions.hpp>
#include <corio/timeouts.hpp>

#include <unistd.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <iterator>
#include <string>
#include <unordered_map>
#include <vector>

namespace corio::distributed {

namespace {

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;

std::string random_hex(std::size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xff);
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

long long ms_of(duration d) {
  return std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// The fields of one stream entry ([id, [f1, v1, f2, v2, ...]]): a handful,
// so a flat list searched in order, with no allocation beyond the strings.
struct entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  const std::string* get(std::string_view k) const {
    for (const auto& [f, v] : fields) {
      if (f == k) return &v;
    }
    return nullptr;
  }
};

// Entries of a stream reply, its strings moved out; an entry whose shape is
// wrong keeps its id (if it has one) and no fields, so that it is
// dead-lettered, not lost.
std::vector<entry> parse_entries(redis_reply&& list) {
  std::vector<entry> out;
  (void)list.as_array();  // std::logic_error if it is not one
  out.reserve(list.elements.size());
  for (redis_reply& e : list.elements) {
    entry en;
    if (e.type != redis_reply::kind::array || e.elements.empty() ||
        e.elements[0].type != redis_reply::kind::string)
      continue;
    en.id = std::move(e.elements[0].str);
    if (e.elements.size() == 2 && e.elements[1].type == redis_reply::kind::array) {
      auto& kv = e.elements[1].elements;
      en.fields.reserve(kv.size() / 2);
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
        if (const std::string* seen = en.get(kv[i].str)) {  // a repeated field: the last counts
          *const_cast<std::string*>(seen) = std::move(kv[i + 1].str);
          continue;
        }
        en.fields.emplace_back(std::move(kv[i].str), std::move(kv[i + 1].str));
      }
    }
    out.push_back(std::move(en));
  }
  return out;
}

// The entries of the first stream of an XREAD / XREADGROUP reply
// ([[key, [entries...]]]), taken out of it.
std::vector<entry> stream_entries(redis_reply& r) {
  return parse_entries(std::move(const_cast<redis_reply&>(r[0][1])));  // r[0][1] checks the shape
}

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const base_exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

namespace detail {

// -- submitter -------------------------------------------------------------------

struct submitter_impl : std::enable_shared_from_this<submitter_impl> {
  task_queue_options opts;
  redis_client cmd;
  redis_client reader;  // its XREAD BLOCK holds the connection
  std::string id = random_hex(8);
  std::string tasks_key;
  std::string reply_key;
  std::uint64_t next = 0;
  std::unordered_map<std::string, future<std::string>> waiting;
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
        auto it = s->waiting.find(*tid);
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

  future<std::string> submit(std::string fn, std::string args) {
    if (closed) throw std::runtime_error("submitter for " + tasks_key + ": used after close()");
    std::string tid = id + "-" + std::to_string(next++);
    future<std::string> result = get_running_loop().create_future<std::string>();
    waiting.emplace(tid, result);
    add(submission{std::move(tid), std::move(fn), std::move(args), 0});
    return result;
  }

  struct submission {
    std::string tid, fn, args;
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
    future<redis_reply> added = cmd.command("XADD", tasks_key, "*", "id", sm.tid, "fn", sm.fn, "args", sm.args,
                                            "reply", reply_key, "attempt", 1);
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
    auto it = s->waiting.find(sm.tid);
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
    for (auto& [tid, fut] : waiting) {
      if (!fut.done()) fut.cancel("submitter closed");
    }
    waiting.clear();
    reader.close();
    cmd.close();
  }
};

// -- worker ----------------------------------------------------------------------

struct worker_impl : std::enable_shared_from_this<worker_impl> {
  task_queue_options opts;
  std::string consumer;
  std::string tasks_key, dead_key, group;
  std::unordered_map<std::string, task_fn> functions;
  std::unique_ptr<redis_client> cmd;
  std::unique_ptr<redis_client> taker;  // its XREADGROUP BLOCK holds the connection
  worker_stats st;
  bool stopping = false;
  bool running = false;
  event slot_free;

  worker_impl(task_queue_options o, std::string c) : opts(std::move(o)), consumer(std::move(c)) {
    if (opts.max_attempts < 1) throw std::invalid_argument("task_queue_options: max_attempts must be at least 1");
    if (opts.concurrency < 1) throw std::invalid_argument("task_queue_options: concurrency must be at least 1");
    if (opts.visibility_timeout <= opts.time_limit)
      throw std::invalid_argument(
          "task_queue_options: visibility_timeout must exceed time_limit, or running tasks would be taken again");
    if (consumer.empty()) {
      char host[256] = {};
      ::gethostname(host, sizeof host - 1);
      consumer = std::string(host) + "-" + std::to_string(::getpid()) + "-" + random_hex(3);
    }
    tasks_key = opts.name + ":tasks";
    dead_key = opts.name + ":dead";
    group = opts.name + ":workers";
  }

  // Awaits every future; the first exception is raised after all are done.
  static task<void> await_all(std::vector<future<redis_reply>> fs) {
    std::exception_ptr first;
    for (auto& f : fs) {
      try {
        co_await f;
      } catch (const std::exception&) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
  }

  task<void> send_reply(const entry& e, const std::string& status, const std::string& payload) {
    std::vector<future<redis_reply>> fs;
    const std::string* tid = e.get("id");
    const std::string* reply = e.get("reply");
    if (tid && status == "ok") {
      fs.push_back(cmd->command("SET", opts.name + ":result:" + *tid, payload, "PX", ms_of(opts.result_ttl)));
    }
    if (tid && reply) {
      // The reply stream's PEXPIRE goes with the acknowledgement (ack()), once per batch.
      fs.push_back(cmd->command("XADD", *reply, "MAXLEN", "~", 100000, "*", "id", *tid, "status", status, "result",
                                payload));
    }
    co_await await_all(std::move(fs));
  }

  // The acknowledgements asked for in one loop iteration go out together
  // (a batch of tasks read at once finishes together): a PEXPIRE per reply
  // stream answered, then one XACK and one XDEL for all. Redis runs the
  // commands of a connection in order, and each task asks only once its
  // result is stored, so a result is still stored before its ack.
  struct ack_batch {
    std::vector<std::string> ids;
    std::vector<std::string> reply_keys;
    future<void> done;
  };
  std::shared_ptr<ack_batch> acks;

  // Acknowledged entries are deleted too, so the stream holds only what is
  // waiting or running. `replied`: a reply was added to the entry's reply
  // stream, whose expiry is renewed.
  task<void> ack(const entry& e, bool replied = true) {
    if (!acks) {
      acks = std::make_shared<ack_batch>();
      acks->done = get_running_loop().create_future<void>();
      get_running_loop().call_soon([weak = weak_from_this()] {
        if (auto self = weak.lock()) self->flush_acks();
      });
    }
    acks->ids.push_back(e.id);
    const std::string* reply = replied ? e.get("reply") : nullptr;
    if (reply && std::find(acks->reply_keys.begin(), acks->reply_keys.end(), *reply) == acks->reply_keys.end())
      acks->reply_keys.push_back(*reply);
    future<void> done = acks->done;
    co_await done;
  }

  void flush_acks() {
    std::shared_ptr<ack_batch> b = std::move(acks);
    acks.reset();
    if (!b) return;
    auto fs = std::make_shared<std::vector<future<redis_reply>>>();
    try {
      for (const std::string& key : b->reply_keys) fs->push_back(cmd->command("PEXPIRE", key, ms_of(opts.result_ttl)));
      std::vector<std::string_view> argv = {"XACK", tasks_key, group};
      for (const std::string& id : b->ids) argv.push_back(id);
      fs->push_back(cmd->command_argv(argv));
      argv.erase(argv.begin() + 1);  // XDEL <tasks_key> ids...
      argv[0] = "XDEL";
      argv[1] = tasks_key;
      fs->push_back(cmd->command_argv(argv));
    } catch (const std::exception&) {
      b->done.set_exception(std::current_exception());
      for (auto& f : *fs) f.add_done_callback([](future<redis_reply>& r) { (void)r.exception(); });
      return;
    }
    // Replies come in order: when the last is in, all are.
    fs->back().add_done_callback([b, fs](future<redis_reply>&) {
      std::exception_ptr first;
      bool cancelled = false;
      for (auto& f : *fs) {
        if (f.cancelled()) {
          cancelled = true;
        } else if (std::exception_ptr e = f.exception(); e && !first) {
          first = e;
        }
      }
      if (b->done.done()) return;
      if (first) {
        b->done.set_exception(first);
      } else if (cancelled) {
        b->done.cancel("redis client closed");  // as awaiting the commands themselves would raise
      } else {
        b->done.set_result();
      }
    });
  }

  void count(const char* what) {
    future<redis_reply> f = cmd->command("HINCRBY", opts.name + ":stats", what, 1);
    f.add_done_callback([](future<redis_reply>& r) { (void)r.exception(); });  // a lost count is no failure
  }

  // XADD to `stream` of `head` (field, value pairs) then e's own fields;
  // waits for Redis to take it.
  task<void> add_entry(const std::string& stream, std::vector<std::string> head, const entry& e) {
    std::vector<std::string> argv = {"XADD", stream, "*"};
    argv.insert(argv.end(), std::make_move_iterator(head.begin()), std::make_move_iterator(head.end()));
    for (const auto& [k, v] : e.fields) {
      argv.push_back(k);
      argv.push_back(v);
    }
    std::vector<std::string_view> views(argv.begin(), argv.end());
    std::vector<future<redis_reply>> fs;
    fs.push_back(cmd->command_argv(views));
    co_await await_all(std::move(fs));
  }

  task<void> dead_letter(const entry& e, const std::string& error, const std::exception_ptr& exc) {
    std::vector<std::string> head = {"entry", e.id, "error", error};  // apart: g++ 12 rejects a braced list in co_await
    co_await add_entry(dead_key, std::move(head), e);
    // Counted before the reply goes out: whoever sees the result sees the count.
    ++st.dead_lettered;
    count("dead_lettered");
    // "error": the function's own exception; "failed": why it could not run.
    if (exc) {
      co_await send_reply(e, "error", mp::encode(exc));
    } else {
      co_await send_reply(e, "failed", mp::encode(error));
    }
  }

  task<void> handle(entry e) {
    try {
      co_await run_entry(e);
    } catch (const std::exception&) {
      // The broker went away before the result or the acknowledgement was
      // stored: the task stays pending and is taken again after the
      // visibility timeout.
    }
    --st.in_flight;
    slot_free.set();
  }

  task<void> run_entry(const entry& e) {
    const std::string* tid = e.get("id");
    const std::string* fn = e.get("fn");
    const std::string* args = e.get("args");
    if (!tid || !fn || !args) {
      co_await dead_letter(e, "malformed task: it needs the fields id, fn and args", nullptr);
      co_await ack(e);
      co_return;
    }
    auto it = functions.find(*fn);
    if (it == functions.end()) {
      co_await dead_letter(e, "no function named '" + *fn + "' is registered", nullptr);
      co_await ack(e);
      co_return;
    }
    int attempt = 1;
    if (const std::string* a = e.get("attempt")) {
      try {
        attempt = std::max(1, std::stoi(*a));
      } catch (const std::exception&) {
      }
    }
    std::string result;
    std::exception_ptr error;
    bool permanent = false;
    try {
      result = co_await wait_for(it->second(*args), opts.time_limit);
    } catch (const timeout_error&) {
      // A plain timeout_error, which crosses by its name (wait_for's carries
      // the cancellation nested in it).
      error = std::make_exception_ptr(timeout_error(
          "task " + *tid + " (" + *fn + ") ran longer than its time limit of " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(opts.time_limit).count()) + " ms"));
    } catch (const mp::codec_error&) {
      error = std::current_exception();
      permanent = true;  // the arguments will not decode next time either
    } catch (const std::exception&) {
      error = std::current_exception();
    }
    if (!error) {
      co_await send_reply(e, "ok", result);
      co_await ack(e);
      ++st.done;
      co_return;
    }
    ++st.failed_runs;
    if (!permanent && attempt < opts.max_attempts) {
      co_await sleep(opts.retry_backoff * (1LL << std::min(attempt - 1, 20)));
      std::vector<future<redis_reply>> fs;
      fs.push_back(cmd->command("XADD", tasks_key, "*", "id", *tid, "fn", *fn, "args", *args, "reply",
                                e.get("reply") ? *e.get("reply") : std::string(), "attempt", attempt + 1));
      co_await await_all(std::move(fs));
      ++st.retried;  // before the ack: the next run may already be under way
      count("retried");
      co_await ack(e, false);
      co_return;
    }
    co_await dead_letter(e, message_of(error), error);
    co_await ack(e);
  }

  task<void> requeue(std::vector<entry> entries) {
    for (const entry& e : entries) {
      co_await add_entry(tasks_key, std::vector<std::string>(), e);
      co_await ack(e, false);
    }
  }

  task<void> reclaim_loop(std::vector<task<void>>& tasks) {
    const duration period = std::max<duration>(opts.visibility_timeout / 2, 10ms);
    for (;;) {
      co_await sleep(period);
      if (stopping) co_return;
      std::string start = "0-0";
      do {
        const std::size_t free = opts.concurrency - std::min(opts.concurrency, st.in_flight);
        if (free == 0) break;
        redis_reply r;
        try {
          r = co_await cmd->command("XAUTOCLAIM", tasks_key, group, consumer, ms_of(opts.visibility_timeout), start,
                                    "COUNT", free);
        } catch (const std::exception&) {
          break;
        }
        start = r[0].as_string();
        for (entry& e : parse_entries(std::move(const_cast<redis_reply&>(r[1])))) {
          ++st.reclaimed;
          ++st.in_flight;
          tasks.push_back(create_task(handle(std::move(e))));
        }
      } while (start != "0-0" && !stopping);
    }
  }

  task<void> run() {
    if (running) throw std::runtime_error("worker " + consumer + ": run() is already running");
    running = true;  // a stop() that came first (SIGTERM at start-up) is kept: run() returns at once
    cmd = std::make_unique<redis_client>(opts.redis);
    taker = std::make_unique<redis_client>(opts.redis);
    try {
      co_await cmd->command("XGROUP", "CREATE", tasks_key, group, "0", "MKSTREAM");
    } catch (const redis_error& e) {
      if (e.reply().rfind("BUSYGROUP", 0) != 0) throw;
    }
    std::vector<task<void>> tasks;
    task<void> reclaimer = create_task(reclaim_loop(tasks));
    std::exception_ptr failure;
    try {
      while (!stopping) {
        std::erase_if(tasks, [](const task<void>& t) { return t.done(); });
        if (st.in_flight >= opts.concurrency) {
          slot_free.clear();
          co_await slot_free.wait();
          continue;
        }
        redis_reply r;
        try {
          r = co_await taker->command("XREADGROUP", "GROUP", group, consumer, "COUNT",
                                      opts.concurrency - st.in_flight, "BLOCK", ms_of(opts.read_block), "STREAMS",
                                      tasks_key, ">");
        } catch (const broker_unavailable&) {
          continue;  // the client reconnects (each wait is bounded by unavailable_wait)
        }
        if (r.is_nil()) continue;
        if (stopping) {
          // Taken while the stop came: put back for another worker at once,
          // rather than after the visibility timeout.
          co_await requeue(stream_entries(r));
          break;
        }
        for (entry& e : stream_entries(r)) {
          ++st.in_flight;
          tasks.push_back(create_task(handle(std::move(e))));
        }
      }
    } catch (...) {
      failure = std::current_exception();
    }
    reclaimer.cancel();
    try {
      co_await reclaimer;
    } catch (const cancelled_error&) {
    }
    for (auto& t : tasks) co_await t;  // finish what was taken; handle() raises nothing
    taker->close();
    cmd->close();
    running = false;
    if (failure) std::rethrow_exception(failure);
  }
};

}  // namespace detail

task<queue_stats> get_queue_stats(redis_client& redis, std::string name) {
  const std::string tasks = name + ":tasks";
  // One pipeline; every reply is awaited before the first error is raised.
  future<redis_reply> fs[] = {redis.command("XLEN", tasks), redis.command("XLEN", name + ":dead"),
                              redis.command("HGET", name + ":stats", "retried"),
                              redis.command("XPENDING", tasks, name + ":workers")};
  redis_reply r[4];
  std::exception_ptr first;
  for (int i = 0; i < 4; ++i) {
    try {
      r[i] = co_await fs[i];
    } catch (const redis_error&) {
      if (i != 3) first = first ? first : std::current_exception();  // XPENDING: no group yet, nothing taken
    } catch (const std::exception&) {
      first = first ? first : std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
  queue_stats out;
  out.dead_lettered = r[1].as_integer();
  out.retried = r[2].is_nil() ? 0 : std::stoll(r[2].as_string());
  out.in_flight = r[3].type == redis_reply::kind::array ? r[3][0].as_integer() : 0;
  out.waiting = std::max(0LL, r[0].as_integer() - out.in_flight);
  co_return out;
}

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

worker::worker(task_queue_options opts, std::string consumer)
    : impl_(std::make_shared<detail::worker_impl>(std::move(opts), std::move(consumer))) {}
worker::~worker() = default;
void worker::add_function(std::string name, detail::task_fn fn) { impl_->functions[std::move(name)] = std::move(fn); }
task<void> worker::run() { return impl_->run(); }
void worker::stop() noexcept {
  impl_->stopping = true;
  impl_->slot_free.set();
}
worker_stats worker::stats() const noexcept { return impl_->st; }
const std::string& worker::consumer() const noexcept { return impl_->consumer; }

}  // namespace corio::distributed
