// The task queue on Redis Streams: the worker and the queue's figures
// (task_queue.hpp). The layout of the messages is docs/design.md's
// "The task queue on Redis Streams".
#include "cpu_pool.hpp"
#include "stream_entry.hpp"

#include <corio/exceptions.hpp>
#include <corio/timeouts.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace corio::distributed {

namespace {
using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
}  // namespace

namespace detail {

struct worker_impl : std::enable_shared_from_this<worker_impl> {
  task_queue_options opts;
  std::string consumer;
  std::string tasks_key, dead_key, group;
  // A function runs on the loop (fn), or in the CPU pool (cpu).
  struct registered {
    task_fn fn;
    std::unique_ptr<cpu_function> cpu;
  };
  std::unordered_map<std::string, registered> functions;
  std::unique_ptr<cpu_pool> pool;  // made at the first call of a CPU function
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

  std::string result_key;  // <name>:result:<id> of the last result stored, its buffer kept

  // The entry's reply stream; none when the field is absent or empty.
  static const std::string* reply_of(const entry& e) {
    const std::string* reply = e.get("reply");
    return reply && !reply->empty() ? reply : nullptr;
  }

  // The result key and the reply entry (one of each per task, so no list
  // of futures): both awaited, then the first failure raised.
  task<void> send_reply(const entry& e, const std::string& status, const std::string& payload) {
    const std::string* tid = e.get("id");
    const std::string* reply = reply_of(e);
    future<redis_reply> stored;
    future<redis_reply> replied;
    if (tid && status == "ok" && opts.store_results) {
      result_key.assign(opts.name).append(":result:").append(*tid);
      stored = cmd->command("SET", result_key, payload, "PX", ms_of(opts.result_ttl));
    }
    if (tid && reply) {
      // The reply stream's PEXPIRE and its trim go with the acknowledgement
      // (ack()), once per batch: an XADD's own MAXLEN costs Redis three
      // arguments per task.
      replied = cmd->command("XADD", *reply, "*", "id", *tid, "status", status, "result", payload);
    }
    std::exception_ptr first;
    future<redis_reply>* both[] = {&stored, &replied};
    for (future<redis_reply>* f : both) {
      if (!*f) continue;
      try {
        co_await *f;
      } catch (const std::exception&) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
  }

  // The acknowledgements asked for in one loop iteration go out together
  // (a batch of tasks read at once finishes together): a PEXPIRE and an
  // XTRIM MAXLEN per reply stream answered, then one XACK for all. Redis
  // runs the commands of a connection in order, and each task asks only
  // once its result is stored, so a result is still stored before its ack.
  struct ack_batch {
    std::vector<std::string> ids;
    std::vector<std::string> reply_keys;
    // Set when Redis has answered, with `failure` if it failed. Every task
    // of the batch waits on it: an event queues its waiters in constant
    // time, where a future appends each listener to a list it walks.
    event done;
    std::exception_ptr failure;
  };
  std::shared_ptr<ack_batch> acks;
  static constexpr int kReplyStreamLength = 100000;  // about: whole nodes go

  // Acknowledged entries are not deleted as they are acknowledged (an XDEL
  // per batch cost Redis a fifth of its time): trim() drops them in bulk.
  // `replied`: a reply was added to the entry's reply stream, whose expiry
  // is renewed.
  task<void> ack(const entry& e, bool replied = true) {
    if (!acks) {
      acks = std::make_shared<ack_batch>();
      get_running_loop().call_soon([weak = weak_from_this()] {
        if (auto self = weak.lock()) self->flush_acks();
      });
    }
    acks->ids.push_back(e.id);
    const std::string* reply = replied ? reply_of(e) : nullptr;
    if (reply && std::find(acks->reply_keys.begin(), acks->reply_keys.end(), *reply) == acks->reply_keys.end())
      acks->reply_keys.push_back(*reply);
    const std::shared_ptr<ack_batch> b = acks;
    co_await b->done.wait();
    if (b->failure) std::rethrow_exception(b->failure);
  }

  void flush_acks() {
    std::shared_ptr<ack_batch> b = std::move(acks);
    acks.reset();
    if (!b) return;
    auto fs = std::make_shared<std::vector<future<redis_reply>>>();
    try {
      for (const std::string& key : b->reply_keys) {
        fs->push_back(cmd->command("PEXPIRE", key, ms_of(opts.result_ttl)));
        fs->push_back(cmd->command("XTRIM", key, "MAXLEN", "~", kReplyStreamLength));
      }
      std::vector<std::string_view> argv = {"XACK", tasks_key, group};
      for (const std::string& id : b->ids) argv.push_back(id);
      fs->push_back(cmd->command_argv(argv));
    } catch (const std::exception&) {
      b->failure = std::current_exception();
      b->done.set();
      for (auto& f : *fs) f.add_done_callback([](future<redis_reply>& r) { (void)r.exception(); });
      return;
    }
    acked_since_trim += b->ids.size();
    if (acked_since_trim >= kTrimEvery) start_trim();
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
      if (b->done.is_set()) return;
      if (first) {
        b->failure = first;
      } else if (cancelled) {
        // As awaiting the commands themselves would raise.
        b->failure = std::make_exception_ptr(cancelled_error("redis client closed"));
      }
      b->done.set();
    });
  }

  // The stream keeps what waits or runs, and what was acknowledged since
  // the last trim: every kTrimEvery acknowledgements of this worker (and on
  // each reclaim round, and when run() ends) it is trimmed below the oldest
  // entry pending in the group, or, with none pending, up to the last one
  // delivered, that one included. Entries are delivered in id order and
  // nothing makes an acknowledged entry pending again, so everything below
  // that bound is done, and stays done after the bound was read: no script
  // is needed to read the bound and trim at once. The group's last-delivered id is read
  // before the pending summary, so that with none pending it is one whose
  // delivery came before the summary.
  static constexpr std::size_t kTrimEvery = 1000;
  std::size_t acked_since_trim = 0;
  task<void> trimming;

  // The stream id just after `id` ("<ms>-<seq>"): MINID keeps its bound.
  static std::string after(const std::string& id) {
    const std::size_t dash = id.find('-');
    if (dash == std::string::npos) return id;
    std::uint64_t seq = 0;
    const char* end = id.data() + id.size();
    if (std::from_chars(id.data() + dash + 1, end, seq).ptr != end || seq == UINT64_MAX) return id;
    return id.substr(0, dash + 1) + std::to_string(seq + 1);
  }

  void start_trim() {
    if (trimming && !trimming.done()) return;
    acked_since_trim = 0;
    trimming = create_task(trim());
  }

  task<void> trim() {
    try {
      future<redis_reply> groups = cmd->command("XINFO", "GROUPS", tasks_key);
      future<redis_reply> pending = cmd->command("XPENDING", tasks_key, group);
      redis_reply g;
      redis_reply p;
      bool answered = true;  // both awaited, so that no failure goes unretrieved
      try {
        g = co_await std::move(groups);
      } catch (const std::exception&) {
        answered = false;
      }
      try {
        p = co_await std::move(pending);
      } catch (const std::exception&) {
        answered = false;
      }
      if (!answered) co_return;
      std::string bound;
      if (p[0].as_integer() > 0) {
        bound = p[1].as_string();
      } else {
        for (const redis_reply& info : g.as_array()) {
          const auto& kv = info.as_array();
          bool ours = false;
          const std::string* last = nullptr;
          for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
            if (kv[i].str == "name") ours = kv[i + 1].str == group;
            if (kv[i].str == "last-delivered-id") last = &kv[i + 1].str;
          }
          if (ours && last) bound = after(*last);
        }
      }
      if (bound.empty() || bound == "0-0") co_return;
      co_await cmd->command("XTRIM", tasks_key, "MINID", bound);
    } catch (const std::exception&) {
      // Trimming is housekeeping: the next round tries again.
    }
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
      if (it->second.cpu) {
        result = co_await call_cpu(*it->second.cpu, *args, *tid, *fn);
      } else {
        result = co_await wait_for(it->second.fn(*args), opts.time_limit);
      }
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
      if (const std::string* reply = reply_of(e)) {
        fs.push_back(cmd->command("XADD", tasks_key, "*", "id", *tid, "fn", *fn, "args", *args, "reply", *reply,
                                  "attempt", attempt + 1));
      } else {  // no reply stream: none to carry
        fs.push_back(cmd->command("XADD", tasks_key, "*", "id", *tid, "fn", *fn, "args", *args, "attempt", attempt + 1));
      }
      co_await await_all(std::move(fs));
      ++st.retried;  // before the ack: the next run may already be under way
      count("retried");
      co_await ack(e, false);
      co_return;
    }
    co_await dead_letter(e, message_of(error), error);
    co_await ack(e);
  }

  // The pool applies the time limit itself: waiting for a free process
  // does not count.
  task<std::string> call_cpu(const cpu_function& f, std::string_view args, const std::string& tid,
                             const std::string& fn) {
    if (!pool) pool = std::make_unique<cpu_pool>(opts.cpu_processes, opts.cpu_context);
    return pool->call(f, args, opts.time_limit, "task " + tid + " (" + fn + ")");
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
      if (acked_since_trim > 0) start_trim();
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
    if (trimming) co_await trimming;  // trim() raises nothing
    if (acked_since_trim > 0 && cmd->connected()) {  // (not waiting for a broker that went away)
      start_trim();
      co_await trimming;
    }
    if (pool) co_await pool->close();  // no call runs now: its processes exit
    taker->close();
    cmd->close();
    running = false;
    if (failure) std::rethrow_exception(failure);
  }
};

}  // namespace detail

task<queue_stats> get_queue_stats(redis_client& redis, std::string name) {
  const std::string tasks = name + ":tasks";
  const std::string group = name + ":workers";
  // One pipeline; every reply is awaited before the first error is raised.
  // XINFO GROUPS and XPENDING fail while the stream or its group does not
  // exist yet: then nothing was taken.
  future<redis_reply> fs[] = {redis.command("XLEN", tasks), redis.command("XLEN", name + ":dead"),
                              redis.command("HGET", name + ":stats", "retried"),
                              redis.command("XPENDING", tasks, group), redis.command("XINFO", "GROUPS", tasks)};
  redis_reply r[5];
  std::exception_ptr first;
  for (int i = 0; i < 5; ++i) {
    try {
      r[i] = co_await fs[i];
    } catch (const redis_error&) {
      if (i < 3) first = first ? first : std::current_exception();
    } catch (const std::exception&) {
      first = first ? first : std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
  queue_stats out;
  out.dead_lettered = r[1].as_integer();
  out.retried = r[2].is_nil() ? 0 : std::stoll(r[2].as_string());
  out.in_flight = r[3].type == redis_reply::kind::array ? r[3][0].as_integer() : 0;
  // The stream also holds entries acknowledged since the workers last
  // trimmed it: the waiting ones are the group's lag (Redis 7), what was
  // added and not yet delivered. Without a lag (an older Redis, or one it
  // cannot count), the stream's length less the pending entries, which
  // counts those acknowledged entries too.
  if (r[4].type == redis_reply::kind::array) {
    for (const redis_reply& info : r[4].elements) {
      if (info.type != redis_reply::kind::array) continue;
      const auto& kv = info.elements;
      bool ours = false;
      const redis_reply* lag = nullptr;
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
        if (kv[i].str == "name") ours = kv[i + 1].str == group;
        if (kv[i].str == "lag") lag = &kv[i + 1];
      }
      if (ours && lag && lag->type == redis_reply::kind::integer) {
        out.waiting = lag->integer;
        co_return out;
      }
    }
  }
  out.waiting = std::max(0LL, r[0].as_integer() - out.in_flight);
  co_return out;
}

worker::worker(task_queue_options opts, std::string consumer)
    : impl_(std::make_shared<detail::worker_impl>(std::move(opts), std::move(consumer))) {}
worker::~worker() = default;
void worker::add_function(std::string name, detail::task_fn fn) {
  impl_->functions[std::move(name)] = {std::move(fn), nullptr};
}
void worker::add_cpu_function(std::string name, detail::cpu_function fn) {
  impl_->functions[std::move(name)] = {nullptr, std::make_unique<detail::cpu_function>(std::move(fn))};
}
task<void> worker::run() { return impl_->run(); }
void worker::stop() noexcept {
  impl_->stopping = true;
  impl_->slot_free.set();
}
worker_stats worker::stats() const noexcept { return impl_->st; }
const std::string& worker::consumer() const noexcept { return impl_->consumer; }

}  // namespace corio::distributed
