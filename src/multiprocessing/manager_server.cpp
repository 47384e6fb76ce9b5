// The manager's server: one event loop, one task per connection, each
// reading a request, answering it, then reading the next (docs/design.md,
// "Managers", has the protocol).
#include "manager_server.hpp"

#include <corio/exceptions.hpp>
#include <corio/locks.hpp>
#include <corio/runners.hpp>
#include <corio/sock_ops.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <deque>
#include <optional>
#include <exception>
#include <list>
#include <stdexcept>
#include <variant>

namespace corio::multiprocessing::detail {

// -- arguments and replies ------------------------------------------------------------

call_args::call_args(const object& a) {
  if (a.type != msgpack::type::ARRAY) machinery_error("the arguments of a request must be an array");
  p_ = a.via.array.ptr;
  n_ = a.via.array.size;
}

const object& call_args::operator[](std::size_t i) const {
  if (i >= n_) machinery_error("argument " + std::to_string(i) + " is missing");
  return p_[i];
}

std::string call_args::bytes(std::size_t i) const {
  std::string out;
  codec_writer w(out);
  packer p(w);
  p.pack((*this)[i]);
  return out;
}

void call_args::expect(std::string_view method, std::size_t lo, std::size_t hi) const {
  if (n_ < lo || n_ > hi)
    machinery_error(std::string(method) + "() takes " + std::to_string(lo) +
                    (hi != lo ? " to " + std::to_string(hi) : std::string()) + " arguments (" + std::to_string(n_) +
                    " given)");
}

namespace {
constexpr std::string_view kOkHeader = "\x92\xa2ok";  // [ "ok", ...
constexpr std::string_view kNil = "\xc0";
}  // namespace

reply_writer::reply_writer() = default;

void reply_writer::set_raw(std::string_view encoded) { payload_.assign(encoded); }

void reply_writer::set_array(const std::vector<const std::string*>& items) {
  payload_.clear();
  codec_writer w(payload_);
  packer p(w);
  p.pack_array(static_cast<std::uint32_t>(items.size()));
  for (const std::string* s : items) payload_ += *s;
}

std::string reply_writer::finish_ok() const {
  std::string out;
  out.reserve(kOkHeader.size() + payload_.size() + 1);
  out += kOkHeader;
  out += payload_.empty() ? kNil : std::string_view(payload_);
  return out;
}

std::string reply_writer::error(std::exception_ptr e) {
  std::string out;
  codec_writer w(out);
  packer p(w);
  p.pack_array(2);
  codec<std::string_view>::encode(p, "error");
  codec<std::exception_ptr>::encode(p, e);
  return out;
}

task<void> referent::call_async(std::string method, const call_args&, reply_writer&, client_state&) {
  no_such_method("object", method);
  co_return;
}

void no_such_method(std::string_view type_id, std::string_view method) {
  machinery_error("method '" + std::string(method) + "' of " + std::string(type_id) +
                  " is not exposed or does not exist");
}

void machinery_error(const std::string& message) {
  throw remote_error("corio::multiprocessing::remote_error", message,
                     "Traceback (in manager server " + std::to_string(::getpid()) + "):\n" + message + "\n");
}

// -- the server ----------------------------------------------------------------------

namespace {

// Thrown when a client left while its call waited: no reply, the
// connection ends.
struct client_left {};
// Thrown when a client cancelled its call: the reply says so.
struct call_cancelled {};

// A request read while an earlier one waited (watched()), answered after
// it. Requests are numbered from 0 per connection, in the order they come
// (cancels are not numbered): a cancel names the request it cancels.
struct ahead_frame {
  std::string frame;
  std::uint64_t seq = 0;
  bool cancelled = false;  // a cancel came for it before it started
};
struct inbox {
  std::deque<ahead_frame> ahead;
  std::uint64_t next_seq = 0;  // the number of the next request read
  std::uint64_t current = 0;   // the number of the request being handled
  std::vector<std::string> owed;  // replies not sent yet (serve_client)
};
// Requests read ahead of a waiting call, at most.
constexpr std::size_t kAhead = 64;

bool has_prefix(const std::string& frame, std::string_view prefix) noexcept {
  return frame.size() > prefix.size() && std::string_view(frame).substr(0, prefix.size()) == prefix;
}

// An unget: ["unget", id, "", [item]] (no reply, not numbered).
bool is_unget(const std::string& frame) noexcept { return has_prefix(frame, "\x94\xa5" "unget"); }

// The request a `cancel` names, or none if `frame` is not a cancel
// (["cancel", seq, "", []]; a prefix compare for every other request).
std::optional<std::uint64_t> cancel_target(const std::string& frame) {
  if (!has_prefix(frame, "\x94\xa6" "cancel")) return std::nullopt;
  try {
    msgpack::object_handle h = detail::parse_exactly(frame, typeid(void));
    const object& o = h.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) return std::nullopt;
    return codec<std::uint64_t>::decode(o.via.array.ptr[1]);
  } catch (const std::exception&) {
    return std::nullopt;  // handled as a request, which answers the error
  }
}

struct entry {
  std::shared_ptr<referent> obj;
  std::string type_id;
  std::uint64_t refs = 0;
};

class server {
 public:
  server(socket listener, address where, std::string authkey, const std::vector<registered_type>& types,
         std::optional<ssl_context> tls)
      : listener_(std::move(listener)), address_(std::move(where)), authkey_(std::move(authkey)), tls_(std::move(tls)) {
    for (const registered_type& t : types) {
      resolved r;
      r.kind = t.kind;
      r.maxsize = t.maxsize;
      if (t.kind == "user") {
        r.maker = reinterpret_cast<referent_maker>(resolve_code(t.maker));
        r.factory = resolve_code(t.factory);
      }
      types_.insert_or_assign(t.type_id, std::move(r));
    }
  }

  task<void> serve_forever() {
    auto accepting = get_running_loop().create_task(accept_loop());
    co_await stop_.wait();
    accepting.cancel();
    try {
      co_await std::move(accepting);
    } catch (const cancelled_error&) {
    }
    listener_.close();
    // The connections' tasks are cancelled as the loop closes.
  }

 private:
  task<void> accept_loop() {
    for (;;) {
      auto [s, peer] = co_await sock_accept(listener_);
      (void)peer;
      get_running_loop().create_task(serve_client(std::move(s)));
    }
  }

  task<void> serve_client(socket s) {
    client_state c{next_client_++};
    connection conn;
    try {
      conn = co_await manager_authenticate(std::move(s), authkey_, tls_);
    } catch (const std::exception&) {
      co_return;  // the handshake failed: nothing was read beyond it
    }
    inbox in;
    for (;;) {
      std::string msg;
      bool skip = false;  // cancelled before it started: answered as such
      if (!in.ahead.empty()) {
        msg = std::move(in.ahead.front().frame);
        skip = in.ahead.front().cancelled;
        in.current = in.ahead.front().seq;
        in.ahead.pop_front();
      } else {
        // Requests already buffered are answered together, in one write;
        // the replies go before the server waits for more.
        if (!in.owed.empty() && !conn.buffered() && !co_await flush(conn, in)) co_return;
        bool left = false;
        try {
          // The client sends its next request only after our reply: wait for
          // it rather than try a read that finds nothing, a system call per
          // request (poll_async returns at once when bytes are buffered).
          co_await conn.poll_async(std::nullopt);
          msg = co_await conn.recv_bytes_async(manager_max_message);
        } catch (const std::exception&) {
          left = true;  // the client left, or sent a frame over the limit
        }
        if (left) {
          (void)co_await flush(conn, in);  // what it asked before
          co_return;
        }
        // A cancel read here comes after its call ended: nothing to do.
        if (cancel_target(msg)) continue;
        if (is_unget(msg)) {
          unget(msg, c);
          continue;
        }
        in.current = in.next_seq++;
      }
      bool answer = true;
      std::string rep;
      try {
        if (skip) throw call_cancelled{};
        rep = co_await handle(msg, c, answer, conn, in);
      } catch (const cancelled_error&) {
        throw;  // the server is stopping
      } catch (const client_left&) {
        co_return;
      } catch (const call_cancelled&) {
        rep = reply_writer::error(std::make_exception_ptr(
            cancelled_error("manager: the call was cancelled by its client before it completed")));
      } catch (...) {
        rep = reply_writer::error(std::current_exception());
      }
      if (!answer) continue;
      in.owed.push_back(std::move(rep));
      if (stopping_) {
        (void)co_await flush(conn, in);
        stop_.set();
        co_return;
      }
      if (in.owed.size() >= kAhead && !co_await flush(conn, in)) co_return;
    }
  }

  // Sends the replies owed, in one write; false if the client is gone.
  static task<bool> flush(connection& conn, inbox& in) {
    if (in.owed.empty()) co_return true;
    bool sent = true;
    try {
      if (in.owed.size() == 1)
        co_await conn.send_bytes_async(std::move(in.owed.front()));
      else
        co_await conn.send_bytes_async(std::move(in.owed));
    } catch (const std::exception&) {
      sent = false;
    }
    in.owed.clear();
    co_return sent;
  }

  // One request; `answer` false for an op that has no reply (decref).
  task<std::string> handle(const std::string& msg, client_state& c, bool& answer, connection& conn, inbox& in) {
    msgpack::object_handle h;
    try {
      h = detail::parse_exactly(msg, typeid(void));
    } catch (const codec_error& e) {
      machinery_error(std::string("a request that does not decode: ") + e.what());
    }
    const object& req = h.get();
    if (req.type != msgpack::type::ARRAY || req.via.array.size != 4 ||
        req.via.array.ptr[0].type != msgpack::type::STR || req.via.array.ptr[2].type != msgpack::type::STR)
      machinery_error("a request must be [op, id, method, args]");
    const object* f = req.via.array.ptr;
    const std::string_view op(f[0].via.str.ptr, f[0].via.str.size);
    std::uint64_t id;
    try {
      id = codec<std::uint64_t>::decode(f[1]);
    } catch (const codec_error&) {
      machinery_error("a request's object id must be an unsigned integer");
    }
    const std::string_view method(f[2].via.str.ptr, f[2].via.str.size);
    const call_args args(f[3]);
    reply_writer out;
    if (op == "call") {
      // The object may die while the call waits (its last proxy dropped by
      // another client): the call keeps it.
      const std::shared_ptr<referent> obj = find(id).obj;
      if (!obj->call(method, args, out, c)) {
        // The replies owed go before a call that may wait.
        if (!in.owed.empty() && !co_await flush(conn, in)) throw client_left{};
        co_await watched(obj->call_async(std::string(method), args, out, c), conn, in, c);
      }
    } else if (op == "create") {
      std::shared_ptr<referent> obj = make(method, args);
      if (!obj) machinery_error("unknown typeid '" + std::string(method) + "'");
      const std::uint64_t nid = next_id_++;
      objects_.emplace(nid, entry{std::move(obj), std::string(method), 1});
      out.set(nid);
    } else if (op == "incref") {
      ++find(id).refs;
    } else if (op == "decref") {
      answer = false;
      const auto it = objects_.find(id);
      if (it != objects_.end() && --it->second.refs == 0) objects_.erase(it);
    } else if (op == "number_of_objects") {
      out.set(objects_.size());
    } else if (op == "waiting_calls") {
      out.set(waiting_);
    } else if (op == "cancel") {
      answer = false;  // its call ended (serve_client takes the well-formed ones)
    } else if (op == "ping") {
      // connect(): one authenticated request (MG-19).
    } else if (op == "shutdown") {
      stopping_ = true;
    } else {
      machinery_error("unknown op '" + std::string(op) + "'");
    }
    co_return out.finish_ok();
  }

  // A registered typeid first (MG-09), then the built-in ones.
  std::shared_ptr<referent> make(std::string_view type_id, const call_args& args) {
    const auto it = types_.find(std::string(type_id));
    if (it == types_.end()) return make_builtin(type_id, args);
    resolved& r = it->second;
    if (r.kind == "queue") {
      args.expect(type_id, 0);
      if (!r.shared) r.shared = make_queue(r.maxsize);
      return r.shared;
    }
    return r.maker(r.factory, args, type_id);
  }

  // A call that waits ends when its client leaves (the end of the stream on
  // its connection): a get must not take an item, nor an acquire a lock,
  // for nobody. Python's server thread would take it and lose it. It also
  // ends when its client cancels it (a `cancel` naming it): the reply then
  // says so. The connection is watched by a reader callback rather than by
  // a task of its own, so a call that waits costs one task and the watch
  // ends without a cancellation (an exception) when the call completes;
  // only when bytes arrive does a task read ahead (read_ahead).
  task<void> watched(task<void> call, connection& conn, inbox& in, client_state& c) {
    ++waiting_;
    event_loop& loop = get_running_loop();
    watch w{*this, conn, in, c, in.current, loop.create_task(std::move(call)), std::nullopt};
    struct unwatch {
      std::size_t& n;
      watch& w;
      ~unwatch() {
        --n;
        w.disarm();
      }
    } watching{waiting_, w};
    // Requests already buffered (pipelined behind this one) are read at
    // once; otherwise the socket is watched (its callback runs at once if
    // bytes are there).
    if (conn.buffered())
      w.start_reading();
    else
      w.arm();
    std::exception_ptr failed;
    bool ended_cancelled = false;
    try {
      co_await w.running;
    } catch (const cancelled_error&) {
      if (!w.gone && !w.cancelled) failed = std::current_exception();
      ended_cancelled = true;
    } catch (...) {
      failed = std::current_exception();
    }
    w.done = true;
    if (w.reader.has_value() && !w.reader->done()) {
      // Waiting for the rest of a frame: what was read stays buffered.
      w.reader->cancel();
      try {
        co_await *w.reader;
      } catch (...) {
      }
    }
    if (failed) std::rethrow_exception(failed);
    if (w.gone) throw client_left{};
    // A cancel that came after the call had completed (a get took an item)
    // changes nothing: the reply carries the result, which the client
    // gives back.
    if (w.cancelled && ended_cancelled) throw call_cancelled{};
  }

  // The watch of one waiting call (watched above).
  struct watch {
    server& srv;
    connection& conn;
    inbox& in;
    client_state& client;
    std::uint64_t seq;  // the waiting call's
    task<void> running;
    std::optional<task<void>> reader;
    bool armed = false;
    bool done = false;       // the call ended
    bool gone = false;       // the client left
    bool cancelled = false;  // the client cancelled the call

    void arm() {
      const int fd = conn.fileno();
      armed = true;
      get_running_loop().add_reader(fd, [this, fd]() {
        char b;
        const ssize_t r = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        disarm();
        if (r == 0 || r < 0) {
          client_gone();
          return;
        }
        start_reading();
      });
    }
    void disarm() {
      if (!armed) return;
      armed = false;
      get_running_loop().remove_reader(conn.fileno());
    }
    void client_gone() {
      gone = true;
      running.cancel();
    }
    void start_reading() { reader = get_running_loop().create_task(read_ahead(*this)); }
  };

  // Reads the requests behind a waiting call while they are there to read:
  // a cancel naming the waiting call cancels it, one naming a request read
  // ahead marks it; other requests are kept, in order, for after the call.
  // At most kAhead requests are kept; then the rest wait in the socket.
  static task<void> read_ahead(watch& w) {
    try {
      for (;;) {
        if (w.done || w.in.ahead.size() >= kAhead) co_return;
        std::string frame = co_await w.conn.recv_bytes_async(manager_max_message);
        if (const std::optional<std::uint64_t> t = cancel_target(frame)) {
          if (*t == w.seq) {
            if (!w.done) {
              w.cancelled = true;
              w.running.cancel();
            }
          } else {
            for (ahead_frame& a : w.in.ahead)
              if (a.seq == *t) a.cancelled = true;
          }
        } else if (is_unget(frame)) {
          w.srv.unget(frame, w.client);  // now: the waiting get may be the one to take it
        } else {
          w.in.ahead.push_back(ahead_frame{std::move(frame), w.in.next_seq++, false});
        }
        if (!w.conn.buffered()) {
          if (!w.done) w.arm();  // nothing more now: the callback starts the next read
          co_return;
        }
      }
    } catch (const cancelled_error&) {
      throw;  // the call ended while a frame was half read: it stays buffered
    } catch (const std::exception&) {
      // The end of the stream, or a frame over the limit: the client is
      // gone as far as this connection goes.
      if (!w.done) w.client_gone();
      else w.gone = true;
    }
  }

  // An item a client's cancelled get took, given back (`unget`): the
  // queue's `_unget` puts it at the head. Nothing to answer, and nothing to
  // do if the object is gone or is no queue.
  void unget(const std::string& frame, client_state& c) {
    try {
      msgpack::object_handle h = detail::parse_exactly(frame, typeid(void));
      const object& o = h.get();
      if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) return;
      const auto it = objects_.find(codec<std::uint64_t>::decode(o.via.array.ptr[1]));
      if (it == objects_.end()) return;
      reply_writer out;
      (void)it->second.obj->call("_unget", call_args(o.via.array.ptr[3]), out, c);
    } catch (const std::exception&) {
    }
  }

  entry& find(std::uint64_t id) {
    const auto it = objects_.find(id);
    if (it == objects_.end()) machinery_error("no object with id " + std::to_string(id) + " in the manager");
    return it->second;
  }

  socket listener_;
  address address_;
  std::string authkey_;
  std::optional<ssl_context> tls_;  // the server's TLS context, if any
  struct resolved {
    std::string kind;
    referent_maker maker = nullptr;
    any_fn factory = nullptr;
    std::int64_t maxsize = 0;
    std::shared_ptr<referent> shared;  // kind "queue": the one queue
  };
  std::unordered_map<std::string, resolved> types_;
  std::unordered_map<std::uint64_t, entry> objects_;
  std::uint64_t next_id_ = 1;
  std::size_t waiting_ = 0;  // calls waiting in watched()
  std::uint64_t next_client_ = 1;
  bool stopping_ = false;
  event stop_;
};

}  // namespace

struct serving {
  address bound{""};
  std::optional<server> srv;
  bool served = false;
  ~serving() {
    if (bound.is_unix() && !bound.is_abstract() && !bound.path().empty()) ::unlink(bound.path().c_str());
  }
};

std::shared_ptr<serving> bind_server(server_config cfg, std::optional<ssl_context> tls) {
  auto s = std::make_shared<serving>();
  socket l = manager_listen(cfg.address, s->bound);
  s->srv.emplace(std::move(l), s->bound, std::move(cfg.authkey), cfg.types, std::move(tls));
  return s;
}

const address& bound_address(const serving& s) noexcept { return s.bound; }

void serve(serving& s) {
  if (s.served) throw process_error("serve_forever: this server has already served");
  s.served = true;
  corio::run(s.srv->serve_forever());
}

void manager_server_main(server_config cfg, connection report) {
  manager_server_main_tls(std::move(cfg), std::move(report), std::nullopt);
}

void manager_server_main_tls(server_config cfg, connection report, std::optional<ssl_context> tls) {
  // The server outlives a Ctrl-C in the terminal; its manager stops it (MG-01).
  ::signal(SIGINT, SIG_IGN);
  if (cfg.ssl_factory) {
    try {
      tls = reinterpret_cast<ssl_context_factory::function>(resolve_code(*cfg.ssl_factory))();
      if (tls->protocol() != ssl_protocol::tls_server)
        throw std::invalid_argument("it returned a client context, not a server one (ssl_protocol::tls_server)");
    } catch (...) {
      report.send(start_report(ssl_factory_failed{std::current_exception()}));
      return;
    }
  }
  std::shared_ptr<serving> s;
  try {
    s = bind_server(std::move(cfg), std::move(tls));
  } catch (...) {
    report.send(start_report(std::current_exception()));
    return;
  }
  report.send(start_report(s->bound));
  report.close();
  serve(*s);
}

}  // namespace corio::multiprocessing::detail
