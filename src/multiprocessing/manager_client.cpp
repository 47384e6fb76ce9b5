// The proxies' side of a manager: the connections of each (process,
// thread), the round trips, and the references proxies hold (MG-05, MG-14).
#include "manager_server.hpp"

#include <corio/detail/fork.hpp>
#include <corio/multiprocessing/process.hpp>
#include <corio/os_errors.hpp>
#include <corio/ssl.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <corio/futures.hpp>

#include <atomic>
#include <deque>
#include <unordered_map>
#include <vector>

namespace corio::multiprocessing {

void namespace_proxy::check_name(std::string_view name) {
  if (name.empty() || name.front() == '_')
    throw std::invalid_argument("namespace proxy: attribute name '" + std::string(name) +
                                "' is empty or starts with '_' (those stay on a Python proxy)");
}

namespace detail {

namespace {

// Bumped by every manager shutdown in this process: connections opened
// before it are dropped rather than used (a new server may have bound the
// same address).
std::atomic<std::uint64_t> g_epoch{0};

struct cached_conn {
  connection c;
  std::uint64_t epoch = 0;
};

constexpr std::size_t kIdlePerAddress = 16;
// A pipe's writer sends at most about this many bytes of requests at once.
constexpr std::size_t kBatchBytes = 256 * 1024;

// A request waiting to go out on a pipe: a call's (with the future its
// reply completes, and the call's number on the pipe), or a cancel or an
// unget, which have no reply.
struct pipe_request {
  std::string bytes;
  future<std::string> f;
  std::uint64_t call = 0;
  bool no_reply = false;
};
// A call sent and not answered yet. `seq` numbers the requests sent on the
// connection (the server numbers them alike; a cancel names one by it).
// A call cancelled after it went out stays here until its reply comes,
// marked `orphan`; for a get (`gets`, of object `id`), an item that reply
// carries (the get took it before the cancel reached the server) goes back.
struct pipe_sent {
  future<std::string> f;
  std::uint64_t call = 0;
  std::uint64_t seq = 0;
  bool orphan = false;
  bool gets = false;
  std::uint64_t id = 0;  // the object called
};

// One lane's pipelined connection (call_lane): calls append their requests,
// one writer task sends them in order, one reader task hands the replies
// out in the same order (the server answers a connection's requests in
// order). Both tasks end when there is nothing left to do.
struct pipe_conn {
  explicit pipe_conn(address a) : where(std::move(a)) {}
  address where;
  std::string authkey;
  std::optional<address> source;
  std::uint64_t epoch = 0;
  event_loop* loop = nullptr;
  connection c;
  bool connected = false;
  bool broken = false;  // failed: no call goes on it any more
  bool writing = false;
  bool reading = false;
  // Requests not sent yet, and the calls sent and not answered yet. A
  // call's future is done before its turn when the call was cancelled.
  std::deque<pipe_request> queued;
  std::deque<pipe_sent> sent;
  std::uint64_t next_call = 0;
  std::uint64_t next_seq = 0;
  // Cancelled gets whose replies have not come: until they have, no call
  // goes out, so that an item such a reply gives back reaches the queue
  // before the gets sent after the cancel (cancels and ungets still go).
  std::size_t held = 0;
};

// A writer's or reader's hold on its pipe. The pipe holds no handle of its
// tasks (a task's frame holds the pipe: no cycle). A task destroyed before
// its body finished (cancelled before it started, as its loop closed)
// leaves its flag set and the stream perhaps out of step: the pipe is
// broken, and the next call opens a new connection.
struct pipe_hold {
  std::shared_ptr<pipe_conn> p;
  bool finished = false;
  explicit pipe_hold(std::shared_ptr<pipe_conn> q) noexcept : p(std::move(q)) {}
  pipe_hold(pipe_hold&& o) noexcept : p(std::move(o.p)), finished(o.finished) {}
  pipe_hold(const pipe_hold&) = delete;
  pipe_hold& operator=(const pipe_hold&) = delete;
  pipe_hold& operator=(pipe_hold&&) = delete;
  ~pipe_hold() {
    if (p && !finished) p->broken = true;
  }
};

struct thread_conns {
  pid_t pid = 0;
  // Blocking calls: one connection per address (MG-05).
  std::unordered_map<std::string, cached_conn> sync;
  // Awaitable calls: idle connections per address; a call takes one (or
  // opens one) so that concurrent calls on the loop never share one.
  std::unordered_map<std::string, std::vector<cached_conn>> idle;
  // Awaitable calls on the quick, waits and puts lanes: by connection key and lane.
  std::unordered_map<std::string, std::shared_ptr<pipe_conn>> pipes;
  ~thread_conns();
};

thread_local bool tl_gone = false;  // the thread's connections are destroyed
thread_local thread_conns tl;

thread_conns::~thread_conns() { tl_gone = true; }

thread_conns& conns() {
  // A forked child must not use its parent's connections.
  // (The pid corio keeps: getpid() is a system call, and this runs on
  // every call.)
  const pid_t pid = corio::detail::fork_origin::current_pid();
  if (tl.pid != pid) {
    tl.sync.clear();
    tl.idle.clear();
    tl.pipes.clear();
    tl.pid = pid;
  }
  return tl;
}

[[noreturn]] void rethrow_for(const std::string& where) {
  try {
    throw;
  } catch (const eof_error&) {
    throw eof_error("manager at " + where + ": the connection closed (the manager shut down, or its server died)");
  } catch (const ssl_error&) {
    throw;  // keeps its TLS type; it names the peer already
  } catch (const os_error& e) {
    std::rethrow_exception(make_os_error(e.error_number(), "manager at " + where));
  }
}

// A cached connection serves one (address, key, source): a manager given
// another key must authenticate on a connection of its own.
std::string connection_key(const address& a, const std::string& authkey, const std::optional<address>& source) {
  std::string k = a.to_string();
  k += '\0';
  k += authkey;
  if (source) {
    k += '\0';
    k += source->to_string();
  }
  return k;
}

// A request goes out at once: a decref has no reply, and with Nagle's
// algorithm the request behind it would wait for the server's delayed
// acknowledgement (about 40 ms). Not a TCP socket (AF_UNIX): nothing to do.
connection no_delay(connection c) noexcept {
  const int one = 1;
  (void)::setsockopt(c.fileno(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return c;
}

// `key` is connection_key(a, authkey, source).
std::string round_trip_at(const std::string& key, const address& a, const std::string& authkey,
                          const std::string& request, const std::optional<address>& source, bool answered = true) {
  thread_conns& t = conns();
  auto it = t.sync.find(key);
  if (it != t.sync.end() && it->second.epoch != g_epoch.load()) {
    t.sync.erase(it);
    it = t.sync.end();
  }
  if (it == t.sync.end()) {
    const std::uint64_t ep = g_epoch.load();
    it = t.sync.emplace(key, cached_conn{no_delay(manager_connect(a, authkey, source)), ep}).first;
  }
  try {
    it->second.c.send_bytes(request);
    if (!answered) return {};
    return it->second.c.recv_bytes();
  } catch (const eof_error&) {
    t.sync.erase(key);
    rethrow_for(a.to_string());
  } catch (const os_error&) {
    t.sync.erase(key);
    rethrow_for(a.to_string());
  }
}

}  // namespace

proxy_ref::proxy_ref(token t, std::string key, std::optional<address> src)
    : tok(std::move(t)),
      authkey(std::move(key)),
      source(std::move(src)),
      conn_key(connection_key(tok.address, authkey, source)),
      owner(corio::detail::fork_origin::current_pid()) {}

proxy_ref::~proxy_ref() {
  // After the shutdown there is nothing to release (MG-04): skip silently.
  if (owner.load() != corio::detail::fork_origin::current_pid() || tl_gone) return;
  try {
    round_trip_at(conn_key, tok.address, authkey, encode_request("decref", tok.id, ""), source, false);
  } catch (...) {
  }
}

reply::reply(std::string bytes) : bytes_(std::move(bytes)) {
  h_ = parse_exactly(bytes_, typeid(reply));
  const object& o = h_.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 2 || o.via.array.ptr[0].type != msgpack::type::STR)
    throw codec_error("manager: a reply must be [status, payload]");
  const std::string_view status(o.via.array.ptr[0].via.str.ptr, o.via.array.ptr[0].via.str.size);
  if (status == "ok") {
    payload_ = &o.via.array.ptr[1];
  } else if (status == "error") {
    std::rethrow_exception(codec<std::exception_ptr>::decode(o.via.array.ptr[1]));
  } else {
    throw codec_error("manager: unknown reply status '" + std::string(status) + "'");
  }
}

std::string round_trip(const proxy_ref& r, const std::string& request) {
  return round_trip_at(r.conn_key, r.tok.address, r.authkey, request, r.source);
}

std::string round_trip_raw(const address& a, const std::string& authkey, const std::string& request,
                           const std::optional<address>& source) {
  return round_trip_at(connection_key(a, authkey, source), a, authkey, request, source);
}

namespace {

// A call with a connection to itself (call_lane::own): an idle one of the
// thread's, or a new one.
task<std::string> round_trip_own(std::shared_ptr<const proxy_ref> r, std::string request) {
  const std::string where = r->tok.address.to_string();
  const std::string& key = r->conn_key;
  connection c;
  std::uint64_t ep = g_epoch.load();
  {
    auto& pool = conns().idle[key];
    while (!pool.empty()) {
      cached_conn cc = std::move(pool.back());
      pool.pop_back();
      if (cc.epoch == g_epoch.load()) {
        c = std::move(cc.c);
        ep = cc.epoch;
        break;
      }
    }
  }
  if (c.closed()) c = no_delay(co_await manager_connect_async(r->tok.address, r->authkey, r->source));
  std::string rep;
  bool failed = false;
  std::exception_ptr err;
  try {
    co_await c.send_bytes_async(std::move(request));
    rep = co_await c.recv_bytes_async();
  } catch (const eof_error&) {
    failed = true;
    err = std::current_exception();
  } catch (const os_error&) {
    failed = true;
    err = std::current_exception();
  }
  if (failed) {
    try {
      std::rethrow_exception(err);
    } catch (...) {
      rethrow_for(where);
    }
  }
  auto& pool = conns().idle[key];
  if (pool.size() < kIdlePerAddress) pool.push_back(cached_conn{std::move(c), ep});
  co_return rep;
}

// The error that ends a pipe, naming the manager's address.
std::exception_ptr named(std::exception_ptr e, const std::string& where) {
  try {
    try {
      std::rethrow_exception(e);
    } catch (const eof_error&) {
      rethrow_for(where);
    } catch (const os_error&) {
      rethrow_for(where);
    }
  } catch (...) {
    return std::current_exception();
  }
  return e;  // not reached
}

// Every call pending on `p` fails with `e`; later calls take a new connection.
void fail_all(pipe_conn& p, const std::exception_ptr& e) {
  p.broken = true;
  if (!tl_gone) {
    auto& pipes = tl.pipes;
    for (auto it = pipes.begin(); it != pipes.end(); ++it)
      if (it->second.get() == &p) {
        pipes.erase(it);
        break;
      }
  }
  for (auto& q : p.queued)
    if (!q.no_reply && !q.f.done()) q.f.set_exception(e);
  p.queued.clear();
  for (auto& s : p.sent)
    if (!s.f.done()) s.f.set_exception(e);
  p.sent.clear();
  // The other task may wait on the connection forever (a reader with no
  // reply coming): shutting the socket down ends its wait (the fd stays
  // open while an awaitable of the connection is pending).
  if (p.connected && !p.c.closed()) (void)::shutdown(p.c.fileno(), SHUT_RDWR);
}

// A reply's payload when it is ["ok", payload], else empty.
std::string_view ok_payload(std::string_view rep) noexcept {
  constexpr std::string_view ok = "\x92\xa2ok";
  if (rep.size() <= ok.size() || rep.substr(0, ok.size()) != ok) return {};
  return rep.substr(ok.size());
}

// Gives back an item a cancelled get took (the reply `rep` carries it):
// `unget` puts it back at the head of the queue (manager_server.cpp). It
// goes out next on the get's own connection, so the gets sent after it
// there come after it; the server applies it even while a get waits. An
// object with no unget (a dict's get is on the same lane) ignores it.
void give_back(pipe_conn& p, std::uint64_t id, std::string_view rep) {
  const std::string_view item = ok_payload(rep);
  if (item.empty() || p.broken) return;
  std::string request;
  {
    codec_writer w(request);
    packer pk(w);
    pk.pack_array(4);
    codec<std::string_view>::encode(pk, "unget");
    codec<std::uint64_t>::encode(pk, id);
    codec<std::string_view>::encode(pk, "");
    pk.pack_array(1);
  }
  request += item;
  p.queued.push_front(pipe_request{std::move(request), {}, 0, true});
}

void start_writer(const std::shared_ptr<pipe_conn>& p);

task<void> pipe_reader(pipe_hold hold) {
  const std::shared_ptr<pipe_conn> p = hold.p;
  std::exception_ptr err;
  try {
    while (!p->sent.empty() && !p->broken) {
      std::string rep = co_await p->c.recv_bytes_async();
      if (p->sent.empty()) break;  // failed meanwhile
      pipe_sent s = std::move(p->sent.front());
      p->sent.pop_front();
      // A call cancelled after its request went out: its reply is read, so
      // the stream stays in step, and an item a get took goes back.
      if (s.orphan) {
        if (s.gets) {
          --p->held;
          give_back(*p, s.id, rep);
          start_writer(p);
        }
      } else if (!s.f.done())
        s.f.set_result(std::move(rep));
    }
  } catch (const cancelled_error&) {
    p->reading = false;
    hold.finished = true;
    if (!p->broken) fail_all(*p, std::current_exception());
    throw;
  } catch (...) {
    err = std::current_exception();
  }
  p->reading = false;
  hold.finished = true;
  if (err && !p->broken) fail_all(*p, named(err, p->where.to_string()));
}

task<void> pipe_writer(pipe_hold hold) {
  const std::shared_ptr<pipe_conn> p = hold.p;
  std::exception_ptr err;
  bool connecting = false;
  try {
    if (!p->connected) {
      connecting = true;
      p->c = no_delay(co_await manager_connect_async(p->where, p->authkey, p->source));
      p->connected = true;
      connecting = false;
    }
    // What is queued goes out in one write: a loop turn's calls cost one
    // system call, not one each.
    std::vector<std::string> batch;
    std::deque<pipe_request> rest;
    while (!p->broken) {
      std::size_t bytes = 0;
      for (pipe_request& q : p->queued) {
        if (bytes >= kBatchBytes || (p->held > 0 && !q.no_reply)) {
          rest.push_back(std::move(q));
          continue;
        }
        if (!q.no_reply) {
          if (q.f.done()) continue;  // cancelled before it was sent: dropped
          p->sent.push_back(pipe_sent{std::move(q.f), q.call, p->next_seq++, false, false, 0});
        }
        bytes += q.bytes.size();
        batch.push_back(std::move(q.bytes));
      }
      p->queued.swap(rest);
      rest.clear();
      if (batch.empty()) break;
      if (!p->reading && !p->sent.empty()) {
        p->reading = true;
        (void)p->loop->create_task(pipe_reader(pipe_hold(p)));
      }
      if (batch.size() == 1)
        co_await p->c.send_bytes_async(std::move(batch.front()));
      else
        co_await p->c.send_bytes_async(std::move(batch));
      batch.clear();
    }
  } catch (const cancelled_error&) {
    p->writing = false;
    hold.finished = true;
    if (!p->broken) fail_all(*p, std::current_exception());
    throw;
  } catch (...) {
    err = std::current_exception();
  }
  p->writing = false;
  hold.finished = true;
  // The errors of connecting name the manager already, in their own types
  // (TLS, authentication).
  if (err && !p->broken) fail_all(*p, connecting ? err : named(err, p->where.to_string()));
}

void start_writer(const std::shared_ptr<pipe_conn>& p) {
  if (!p->writing) {
    p->writing = true;
    (void)p->loop->create_task(pipe_writer(pipe_hold(p)));
  }
}

// Whether `request` calls a method named get (["call", id, "get", ...]).
bool calls_get(std::string_view request) noexcept {
  constexpr std::string_view call = "\x94\xa4" "call";
  if (request.size() < call.size() + 5 || request.substr(0, call.size()) != call) return false;
  std::size_t i = call.size();
  const auto b = static_cast<unsigned char>(request[i]);
  i += b < 0x80 ? 1 : b == 0xcc ? 2 : b == 0xcd ? 3 : b == 0xce ? 5 : b == 0xcf ? 9 : request.size();
  return request.size() >= i + 4 && request.substr(i, 4) == "\xa3get";
}

// A call on the waits or puts lane cancelled while it waited for its
// reply. Sent already: a cancel goes right behind it, so that the server
// ends the call (a get waiting for an item takes none, a put waiting for
// room puts nothing), and its slot stays for the reply;
// if the server's get took an item before the cancel came, the reply
// carries it and it goes back (pipe_reader). Answered already (the reply
// came as the cancel did): an item goes back now. Not sent yet: the writer
// drops it.
void cancelled_waiting(const std::shared_ptr<pipe_conn>& p, std::uint64_t call, const future<std::string>& f,
                       std::uint64_t id, bool gets) {
  if (p->broken) return;
  if (f.done() && !f.cancelled()) {
    if (gets && !f.exception()) {
      give_back(*p, id, f.result());
      start_writer(p);
    }
    return;
  }
  for (pipe_sent& s : p->sent) {
    if (s.call != call) continue;
    s.orphan = true;
    s.gets = gets;
    s.id = id;
    if (gets) ++p->held;
    p->queued.push_back(pipe_request{encode_request("cancel", s.seq, ""), {}, 0, true});
    start_writer(p);
    return;
  }
}

}  // namespace

call_lane lane_of(std::string_view m) noexcept {
  if (m == "get" || m == "join") return call_lane::waits;
  if (m == "put") return call_lane::puts;
  if (m == "acquire" || m == "release" || m == "wait" || m == "wait_for" || m == "notify" || m == "notify_all" ||
      m == "__enter__" || m == "__exit__")
    return call_lane::own;
  return call_lane::quick;
}

task<std::string> round_trip_async(std::shared_ptr<const proxy_ref> r, std::string request, call_lane lane) {
  if (lane == call_lane::own) co_return co_await round_trip_own(std::move(r), std::move(request));
  event_loop& loop = get_running_loop();
  auto& pipes = conns().pipes;
  std::string key = r->conn_key;
  key += lane == call_lane::waits ? 'w' : lane == call_lane::puts ? 'p' : 'q';
  std::shared_ptr<pipe_conn> p;
  if (const auto it = pipes.find(key); it != pipes.end()) {
    p = it->second;
    const bool busy = p->writing || p->reading;
    if (p->broken || p->epoch != g_epoch.load() || (p->loop != &loop && busy)) {
      pipes.erase(it);
      p.reset();
    } else {
      p->loop = &loop;  // an idle connection serves the thread's next loop too
    }
  }
  if (!p) {
    p = std::make_shared<pipe_conn>(r->tok.address);
    p->authkey = r->authkey;
    p->source = r->source;
    p->epoch = g_epoch.load();
    p->loop = &loop;
    pipes.emplace(std::move(key), p);
  }
  future<std::string> f = loop.create_future<std::string>();
  const std::uint64_t call = p->next_call++;
  const bool gets = lane == call_lane::waits && calls_get(request);
  p->queued.push_back(pipe_request{std::move(request), f, call, false});
  start_writer(p);
  if (lane == call_lane::quick) co_return co_await std::move(f);
  try {
    co_return std::move(co_await f);
  } catch (const cancelled_error&) {
    cancelled_waiting(p, call, f, r->tok.id, gets);
    throw;
  }
}

std::shared_ptr<const proxy_ref> adopt_token(token t) {
  auto r = std::make_shared<proxy_ref>(std::move(t), current_process().authkey());
  try {
    decode_reply<void>(round_trip_at(r->conn_key, r->tok.address, r->authkey, encode_request("incref", r->tok.id, ""), {}));
  } catch (...) {
    r->owner = 0;  // no reference was taken: none to release
    throw;
  }
  return r;
}

void forget_manager_connections() noexcept { g_epoch.fetch_add(1); }

}  // namespace detail

}  // namespace corio::multiprocessing
