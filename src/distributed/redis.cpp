// The Redis client on corio's loop: hiredis's asynchronous context with its
// event hooks (addRead/delRead/addWrite/delWrite/cleanup) mapped to the
// loop's fd watchers, so hiredis reads and writes only when the socket is
// ready and never blocks. hiredis 0.14 (Debian 12) has no timeouts of its
// own: the connect timeout is a loop timer.
//
// Replies come back in the order the commands went out, so the futures of the
// commands in flight are a FIFO beside hiredis's own callback list; commands
// issued without a connection wait, already formatted, in a second FIFO
// until the connection comes or their time is up.
#include <corio/distributed/redis.hpp>
#include <corio/exceptions.hpp>
#include <corio/getaddrinfo.hpp>
#include <corio/tasks.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <deque>
#include <exception>
#include <new>
#include <random>
#include <string>
#include <utility>

namespace corio::distributed {

namespace {

const char* kind_name(redis_reply::kind k) noexcept {
  switch (k) {
    case redis_reply::kind::nil: return "nil";
    case redis_reply::kind::integer: return "integer";
    case redis_reply::kind::string: return "string";
    case redis_reply::kind::status: return "status";
    case redis_reply::kind::array: return "array";
  }
  return "?";
}

[[noreturn]] void wrong_kind(const char* want, redis_reply::kind have) {
  throw std::logic_error(std::string("redis_reply: expected ") + want + ", the reply is " + kind_name(have));
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

// SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, MONITOR, in any case.
// The initial first: this runs for every command.
bool is_subscriber_command(std::string_view name) noexcept {
  const int initial = std::toupper(static_cast<unsigned char>(name.empty() ? ' ' : name[0]));
  if (initial != 'S' && initial != 'P' && initial != 'U' && initial != 'M') return false;
  for (std::string_view refused : {"SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "MONITOR"}) {
    if (iequals(name, refused)) return true;
  }
  return false;
}

bool is_numeric_host(const std::string& h) noexcept {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, h.c_str(), buf) == 1 || ::inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

// Replies are built by hiredis's reader straight into redis_reply values
// (its reply object functions), not as hiredis's own objects copied
// afterwards: no second allocation per element, no copy.
//
// A reply's root: hiredis reads `header` as its own redisReply when a reply
// comes with no command waiting for it (a server refusing the connection
// with an error), so that one is kept in step with the value. An error
// anywhere in the reply (EXEC nests them) raises for the command.
struct reply_root {
  redisReply header{};
  redis_reply value;
  bool failed = false;
  std::string error;
};

// The value a read task fills: the root's, or its element in the parent
// array (sized once when the array began, so the element stays put).
redis_reply* slot(const redisReadTask* t) noexcept {
  if (!t->parent) return nullptr;
  const redisReadTask* p = t->parent;
  redis_reply* parent = p->parent ? static_cast<redis_reply*>(p->obj) : &static_cast<reply_root*>(p->obj)->value;
  return &parent->elements[static_cast<std::size_t>(t->idx)];
}

// The root being read: the reader's privdata is the client's, which
// records it when the root is made.
reply_root*& building(const redisReadTask* t) noexcept { return *static_cast<reply_root**>(t->privdata); }

// Makes the root (t has no parent) or finds the element; nullptr tells
// hiredis it is out of memory.
void* start_value(const redisReadTask* t, redis_reply::kind k, redis_reply** out) noexcept {
  if (t->parent) {
    *out = slot(t);
    (*out)->type = k;
    return *out;
  }
  reply_root* root = new (std::nothrow) reply_root;
  if (!root) return nullptr;
  building(t) = root;
  root->value.type = k;
  *out = &root->value;
  return root;
}

void* create_string(const redisReadTask* t, char* str, std::size_t len) noexcept {
  const bool error = t->type == REDIS_REPLY_ERROR;
  redis_reply* v = nullptr;
  const redis_reply::kind k = error                           ? redis_reply::kind::nil
                              : t->type == REDIS_REPLY_STATUS ? redis_reply::kind::status
                                                              : redis_reply::kind::string;
  void* obj = start_value(t, k, &v);
  if (!obj) return nullptr;
  try {
    if (error) {
      reply_root* root = building(t);
      if (!root->failed) {
        root->failed = true;
        root->error.assign(str, len);
      }
      if (!t->parent) {
        root->header.type = REDIS_REPLY_ERROR;
        root->header.str = root->error.data();
        root->header.len = root->error.size();
      }
    } else {
      v->str.assign(str, len);
    }
  } catch (...) {
    if (!t->parent) delete static_cast<reply_root*>(obj);
    return nullptr;
  }
  return obj;
}

void* create_array(const redisReadTask* t, int n) noexcept {
  redis_reply* v = nullptr;
  void* obj = start_value(t, redis_reply::kind::array, &v);
  if (!obj) return nullptr;
  try {
    v->elements.resize(static_cast<std::size_t>(std::max(n, 0)));
  } catch (...) {
    if (!t->parent) delete static_cast<reply_root*>(obj);
    return nullptr;
  }
  return obj;
}

void* create_integer(const redisReadTask* t, long long n) noexcept {
  redis_reply* v = nullptr;
  void* obj = start_value(t, redis_reply::kind::integer, &v);
  if (obj) v->integer = n;
  return obj;
}

void* create_nil(const redisReadTask* t) noexcept {
  redis_reply* v = nullptr;
  return start_value(t, redis_reply::kind::nil, &v);
}

// hiredis frees only roots: a reply once its callback ran, or one it gave up
// half read.
void free_reply(void* obj) noexcept { delete static_cast<reply_root*>(obj); }

redisReplyObjectFunctions reply_functions = {&create_string, &create_array, &create_integer, &create_nil,
                                             &free_reply};

}  // namespace

long long redis_reply::as_integer() const {
  if (type != kind::integer) wrong_kind("an integer", type);
  return integer;
}
const std::string& redis_reply::as_string() const {
  if (type != kind::string && type != kind::status) wrong_kind("a string", type);
  return str;
}
const std::vector<redis_reply>& redis_reply::as_array() const {
  if (type != kind::array) wrong_kind("an array", type);
  return elements;
}

namespace detail {

namespace {
// Appends the command in Redis's protocol to `out`: sized once, then
// written in place (appending piece by piece cost more than the rest of a
// command's way out).
void append_command(std::string& out, std::span<const std::string_view> argv) {
  std::size_t bound = 1 + 20 + 2;
  for (auto a : argv) bound += 1 + 20 + 2 + a.size() + 2;
  const std::size_t start = out.size();
  out.resize(start + bound);
  char* p = out.data() + start;
  char* const limit = out.data() + out.size();
  const auto head = [&](char lead, std::size_t n) {
    *p++ = lead;
    p = std::to_chars(p, limit, n).ptr;
    *p++ = '\r';
    *p++ = '\n';
  };
  head('*', argv.size());
  for (auto a : argv) {
    head('$', a.size());
    if (!a.empty()) std::memcpy(p, a.data(), a.size());
    p += a.size();
    *p++ = '\r';
    *p++ = '\n';
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
}
}  // namespace

std::string redis_format(std::span<const std::string_view> argv) {
  std::string out;
  append_command(out, argv);
  return out;
}

struct redis_impl : std::enable_shared_from_this<redis_impl> {
  struct sent {
    future<redis_reply> fut;
    std::string name;
  };
  struct waiting {
    future<redis_reply> fut;
    std::string name;
    std::string cmd;
    std::int64_t deadline_ns;
  };

  event_loop* loop;
  std::uint32_t loop_ref;  // finds out whether the loop is still there (loop_from_ref)
  bool loop_gone = false;  // then nothing may touch it: the hooks do nothing
  redis_options opts;
  std::string address;
  std::string ip;  // host resolved
  redisAsyncContext* ac = nullptr;
  int fd = -1;
  bool connected = false;
  bool closed = false;
  bool reading = false;
  bool writing = false;
  bool retry_armed = false;
  bool deadline_armed = false;
  bool resolving = false;
  int failures = 0;
  std::uint64_t connections = 0;
  std::string last_cause = "not connected yet";
  std::deque<sent> in_flight;
  std::deque<waiting> queue;
  std::string scratch;  // the command being formatted (command())
  reply_root* building = nullptr;  // the reply hiredis is reading (reply_functions)
  timer_handle retry_timer;
  timer_handle connect_timer;
  timer_handle deadline_timer;
  task<void> resolver;
  std::minstd_rand rng{std::random_device{}()};

  redis_impl(event_loop& l, redis_options o) : loop(&l), loop_ref(detail_core(l).ref()), opts(std::move(o)) {
    address = (opts.host.find(':') != std::string::npos ? "[" + opts.host + "]" : opts.host) + ":" +
              std::to_string(opts.port);
    if (is_numeric_host(opts.host)) ip = opts.host;
  }

  // -- hiredis's event hooks ----------------------------------------------------

  // hiredis is C: nothing may be thrown through it. Registering a watcher
  // can fail only for want of memory; the connection then stalls until the
  // connect timeout or the server's end, which the client survives.
  static redis_impl* self(void* p) noexcept { return static_cast<redis_impl*>(p); }
  static void add_read(void* p) noexcept {
    redis_impl* s = self(p);
    if (s->reading) return;
    try {
      s->loop->add_reader(s->fd, [s] {
        if (s->ac) redisAsyncHandleRead(s->ac);
      });
      s->reading = true;
    } catch (...) {
      s->last_cause = "cannot watch the socket";
    }
  }
  static void del_read(void* p) noexcept {
    redis_impl* s = self(p);
    if (!s->reading || s->loop_gone) return;
    s->reading = false;
    s->loop->remove_reader(s->fd);
  }
  static void add_write(void* p) noexcept {
    redis_impl* s = self(p);
    if (s->writing) return;
    try {
      s->loop->add_writer(s->fd, [s] {
        if (s->ac) redisAsyncHandleWrite(s->ac);
      });
      s->writing = true;
    } catch (...) {
      s->last_cause = "cannot watch the socket";
    }
  }
  static void del_write(void* p) noexcept {
    redis_impl* s = self(p);
    if (!s->writing || s->loop_gone) return;
    s->writing = false;
    s->loop->remove_writer(s->fd);
  }
  // hiredis frees the context and then closes its fd: the watchers go first.
  static void cleanup(void* p) noexcept {
    del_read(p);
    del_write(p);
    self(p)->fd = -1;
  }

  // -- connecting -----------------------------------------------------------------

  void start_connect() {
    if (closed || ac || resolving) return;
    if (ip.empty()) {
      resolving = true;
      resolver = loop->create_task(resolve(weak_from_this()));
      return;
    }
    redisAsyncContext* c = redisAsyncConnect(ip.c_str(), opts.port);
    if (!c) return connection_failed("out of memory");
    if (c->err) {
      std::string cause = c->errstr;
      redisAsyncFree(c);
      return connection_failed(cause);
    }
    ac = c;
    fd = c->c.fd;
    c->data = this;
    c->c.reader->fn = &reply_functions;
    c->c.reader->privdata = &building;
    c->ev.data = this;
    c->ev.addRead = &add_read;
    c->ev.delRead = &del_read;
    c->ev.addWrite = &add_write;
    c->ev.delWrite = &del_write;
    c->ev.cleanup = &cleanup;
    redisAsyncSetDisconnectCallback(c, &on_disconnect);
    redisAsyncSetConnectCallback(c, &on_connect);  // watches for writability: the connect's end
    connect_timer = loop->call_later(opts.connect_timeout, [this] { on_connect_timeout(); });
  }

  static task<void> resolve(std::weak_ptr<redis_impl> weak) {
    std::string host;
    std::uint16_t port;
    {
      auto s = weak.lock();
      if (!s) co_return;
      host = s->opts.host;
      port = s->opts.port;
    }
    std::string found;
    std::string cause;
    try {
      auto entries = co_await corio::getaddrinfo(host, port, AF_UNSPEC, SOCK_STREAM);
      if (!entries.empty()) found = entries.front().address.host();
      if (found.empty()) cause = "name resolution gave no address";
    } catch (const std::exception& e) {
      cause = e.what();
    }
    auto s = weak.lock();
    if (!s || s->closed) co_return;
    s->resolving = false;
    if (found.empty()) {
      s->connection_failed(cause);
    } else {
      s->ip = found;
      s->start_connect();
    }
  }

  // (For want of memory only: the waiting commands then expire, and the
  // next command starts a connection again.)
  static void on_connect(const redisAsyncContext* c, int status) noexcept {
    redis_impl* s = self(c->data);
    s->connect_timer.cancel();
    if (status == REDIS_OK) {
      s->connected = true;
      s->failures = 0;
      ++s->connections;
      try {
        s->flush_queue();
      } catch (...) {
      }
    } else {
      s->ac = nullptr;  // hiredis frees the context when this returns
      try {
        s->connection_failed(c->errstr);
      } catch (...) {
      }
    }
  }

  static void on_disconnect(const redisAsyncContext* c, int status) noexcept {
    redis_impl* s = self(c->data);
    if (s->ac != c) return;  // freed by us, which already said why
    s->ac = nullptr;
    s->connected = false;
    if (s->closed) return;
    s->failures = 0;
    try {
      s->connection_failed(status == REDIS_OK || c->err == 0 ? std::string("connection closed")
                                                              : "connection lost: " + std::string(c->errstr));
    } catch (...) {
    }
  }

  void on_connect_timeout() {
    if (connected || !ac) return;
    redisAsyncContext* c = std::exchange(ac, nullptr);
    redisAsyncFree(c);
    connection_failed("connect timed out");
  }

  // Waits (bounded, jittered, doubling) and tries again.
  void connection_failed(std::string cause) {
    last_cause = std::move(cause);
    if (closed) return;
    const auto base = std::min<std::int64_t>(
        opts.backoff_max.count(), opts.backoff_initial.count() << std::min(failures, 20));
    ++failures;
    std::uniform_int_distribution<std::int64_t> jitter(base / 2, std::max<std::int64_t>(base, 0));
    retry_armed = true;
    retry_timer = loop->call_later(duration(jitter(rng)), [this] {
      retry_armed = false;
      start_connect();
    });
    fail_expired();
  }

  // -- commands -----------------------------------------------------------------

  static void on_reply(redisAsyncContext* c, void* reply, void* priv) noexcept {
    redis_impl* s = self(priv);
    sent e = std::move(s->in_flight.front());
    s->in_flight.pop_front();
    if (s->loop_gone || e.fut.done()) return;  // no loop to complete it on; or its waiter was cancelled
    try {
      if (!reply) {
        if (s->closed) {
          e.fut.cancel("redis client closed");
        } else {
          e.fut.set_exception(std::make_exception_ptr(broker_unavailable(
              s->address, c->err ? "connection lost: " + std::string(c->errstr) : std::string("connection closed"),
              true)));
        }
        return;
      }
      reply_root* root = static_cast<reply_root*>(reply);
      if (root->failed) throw redis_error(e.name, std::move(root->error));
      e.fut.set_result(std::move(root->value));  // hiredis frees the root when this returns
    } catch (...) {
      e.fut.set_exception(std::current_exception());
    }
  }

  // The FIFO entry goes first: hiredis's callback list and in_flight must
  // never disagree, even if an allocation fails.
  void submit(future<redis_reply> fut, std::string name, const std::string& cmd) {
    in_flight.push_back(sent{fut, std::move(name)});
    if (redisAsyncFormattedCommand(ac, &on_reply, this, cmd.data(), cmd.size()) != REDIS_OK) {
      in_flight.pop_back();
      fut.set_exception(std::make_exception_ptr(broker_unavailable(address, "connection closing")));
      return;
    }
    // Many commands issued in one go (a submitter adding thousands of tasks)
    // start going out while the rest are still being made, so that Redis
    // works meanwhile instead of waiting for the whole batch; and the output
    // buffer stays small. Writing never blocks: what the socket does not
    // take waits for the writer callback, as any command does.
    if (sdslen(ac->c.obuf) >= kEagerWrite) redisAsyncHandleWrite(ac);
  }
  static constexpr std::size_t kEagerWrite = 64 * 1024;

  void flush_queue() {
    deadline_timer.cancel();
    deadline_armed = false;
    while (!queue.empty() && connected) {
      waiting w = std::move(queue.front());
      queue.pop_front();
      if (!w.fut.done()) submit(std::move(w.fut), std::move(w.name), w.cmd);
    }
  }

  void arm_deadline() {
    if (deadline_armed || queue.empty()) return;
    deadline_armed = true;
    deadline_timer = loop->call_at(time_point(duration(queue.front().deadline_ns)), [this] {
      deadline_armed = false;
      fail_expired();
    });
  }

  void fail_expired() {
    const std::int64_t now = loop->time().time_since_epoch().count();
    while (!queue.empty() && queue.front().deadline_ns <= now) {
      waiting w = std::move(queue.front());
      queue.pop_front();
      if (!w.fut.done()) {
        w.fut.set_exception(std::make_exception_ptr(broker_unavailable(
            address, last_cause + " (no connection within " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(opts.unavailable_wait).count()) +
                         " ms)")));
      }
    }
    arm_deadline();
  }

  future<redis_reply> command(std::span<const std::string_view> argv) {
    if (closed) throw std::runtime_error("redis_client for " + address + ": used after close()");
    if (argv.empty() || argv[0].empty())
      throw std::invalid_argument("redis_client::command: no command name");
    const std::string_view name = argv[0];
    if (is_subscriber_command(name))
      throw std::invalid_argument("redis_client::command: " + std::string(name) +
                                  " turns the connection into a subscriber, which redis_client does not support");
    future<redis_reply> fut = loop->create_future<redis_reply>();
    if (connected) {
      // hiredis copies the command into its output buffer: formatted in a
      // buffer kept for the next one, it costs no allocation of its own.
      scratch.clear();
      append_command(scratch, argv);
      submit(fut, std::string(name), scratch);
      if (scratch.capacity() > kEagerWrite) std::string().swap(scratch);  // not one large command's size for good
    } else {
      std::string cmd;
      append_command(cmd, argv);
      queue.push_back(waiting{fut, std::string(name), std::move(cmd),
                              loop->time().time_since_epoch().count() + opts.unavailable_wait.count()});
      arm_deadline();
      if (!retry_armed) start_connect();
    }
    return fut;
  }

  void close() noexcept {
    if (closed) return;
    closed = true;
    const corio::detail::loop_core* l = corio::detail::loop_from_ref(loop_ref);
    if (!l || l->is_closed()) {
      // Destroyed after its loop closed: the loop dropped its watchers,
      // timers and tasks; only the socket and hiredis's memory are left.
      loop_gone = true;
      queue.clear();
      if (ac) {
        redisAsyncContext* c = std::exchange(ac, nullptr);
        connected = false;
        redisAsyncFree(c);  // on_reply drops the futures in flight
      }
      return;
    }
    retry_timer.cancel();
    connect_timer.cancel();
    deadline_timer.cancel();
    if (resolver) resolver.cancel();
    for (auto& w : queue) {
      if (!w.fut.done()) w.fut.cancel("redis client closed");
    }
    queue.clear();
    if (ac) {
      // Runs the callbacks of the commands in flight with no reply (they end
      // cancelled, as `closed` is set) and the cleanup hook.
      redisAsyncContext* c = std::exchange(ac, nullptr);
      connected = false;
      redisAsyncFree(c);
    }
  }
};

}  // namespace detail

redis_client::redis_client(redis_options opts)
    : impl_(std::make_shared<detail::redis_impl>(get_running_loop(), std::move(opts))) {
  impl_->start_connect();
}

redis_client::~redis_client() { close(); }

future<redis_reply> redis_client::command_argv(std::span<const std::string_view> argv) {
  return impl_->command(argv);
}

bool redis_client::connected() const noexcept { return impl_->connected; }
std::uint64_t redis_client::connection_count() const noexcept { return impl_->connections; }
const std::string& redis_client::address() const noexcept { return impl_->address; }
void redis_client::close() noexcept { impl_->close(); }
bool redis_client::closed() const noexcept { return impl_->closed; }

}  // namespace corio::distributed
