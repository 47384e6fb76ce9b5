// Python: multiprocessing.managers.BaseProxy and the proxy types a
// SyncManager hands out (DictProxy, ListProxy, ValueProxy, ArrayProxy,
// NamespaceProxy).
//
// A proxy names an object living in a manager's server process (its
// typeid, the server's address and the object's id) and forwards each
// method call as one request and one reply (the wire protocol is in
// docs/design.md, "Managers"). Every method has a blocking form, which uses
// a connection owned by the calling (process, thread), opened on first use
// (MG-05), and an awaitable form (`*_async`), which never blocks the loop:
// awaitable calls issued concurrently from one loop are pipelined on a
// connection of the thread's (call_lane below). Results come back
// by value (MG-06); an exception raised by the object comes back as its
// type when the codec knows it (KeyError and IndexError as
// std::out_of_range, ValueError as std::invalid_argument), failures of the
// machinery (unknown method, unknown id) as remote_error (MG-07).
//
// Copies of a proxy share one reference in the server; the last copy
// dropped releases it, and the object dies with the last reference of all
// processes (MG-14). A proxy crosses a process as a codec value (typeid,
// address, id, and a flag when its manager is reached over TLS): the
// receiver takes a reference of its own and connects with its own authkey
// (and the client ssl_context it registered for the address). After the manager shut down, a call raises an os_error
// or eof_error naming the manager's address (MG-04).
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/multiprocessing/address.hpp>
#include <corio/tasks.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::multiprocessing {

namespace detail {

// Python: managers.Token: what names a shared object.
struct token {
  std::string type_id;
  multiprocessing::address address;
  std::uint64_t id = 0;
};

// One reference held in the server, shared by the copies of a proxy and
// released by the last of them (a decref, which the server does not
// answer; nothing if the server is gone).
struct proxy_ref {
  token tok;
  std::string authkey;
  // What this process binds its connections to before connecting (none:
  // the system's choice).
  std::optional<multiprocessing::address> source;
  // Which of the thread's cached connections serves it (address, key and
  // source), made once rather than on every call.
  std::string conn_key;
  // The process holding the reference: a forked child's copy uses its
  // parent's and never drops it.
  std::atomic<pid_t> owner;
  proxy_ref(token t, std::string key, std::optional<multiprocessing::address> src = std::nullopt);
  proxy_ref(const proxy_ref&) = delete;
  proxy_ref& operator=(const proxy_ref&) = delete;
  ~proxy_ref();
};

// A request: [op, id, method, [args...]].
template <class... A>
std::string encode_request(std::string_view op, std::uint64_t id, std::string_view method, const A&... args) {
  std::string out;
  codec_writer w(out);
  packer p(w);
  p.pack_array(4);
  codec<std::string_view>::encode(p, op);
  codec<std::uint64_t>::encode(p, id);
  codec<std::string_view>::encode(p, method);
  p.pack_array(static_cast<std::uint32_t>(sizeof...(A)));
  (codec<A>::encode(p, args), ...);
  return out;
}

// The payload of a reply [status, payload]; an error reply is rethrown as
// the exception it carries.
class reply {
 public:
  explicit reply(std::string bytes);
  const object& payload() const noexcept { return *payload_; }

 private:
  std::string bytes_;
  msgpack::object_handle h_;
  const object* payload_ = nullptr;
};

template <class R>
R decode_reply(std::string bytes) {
  const reply r(std::move(bytes));
  if constexpr (!std::is_void_v<R>) return codec<R>::decode(r.payload());
}

// One request and its reply on the calling thread's connection to the
// server, opened on first use.
std::string round_trip(const proxy_ref& r, const std::string& request);

// Which connection an awaitable call takes. Calls on one lane are pipelined
// on one connection per (thread, manager address, key) and answered in
// order, so a call the server makes wait holds up those behind it:
// `quick` for calls that answer at once, `waits` for a queue's get and
// join (a waiting get never holds up a put), `puts` for a queue's put
// (one waiting for room on a full queue holds up only the puts behind it,
// never a get_nowait that would make the room), `own` for the methods of
// locks, conditions, events and barriers, whose owner in the server is the
// connection (each such call has a connection to itself, as before). A
// call on `waits` or `puts` cancelled after its request went out is
// cancelled in the server too.
enum class call_lane : unsigned char { quick, waits, puts, own };
call_lane lane_of(std::string_view method) noexcept;

// The same in a running loop, never blocking it, on the lane's connection
// of the loop's thread.
task<std::string> round_trip_async(std::shared_ptr<const proxy_ref> r, std::string request,
                                   call_lane lane = call_lane::quick);

template <class R>
task<R> call_async(std::shared_ptr<const proxy_ref> r, std::string request, call_lane lane) {
  std::string bytes = co_await round_trip_async(std::move(r), std::move(request), lane);
  co_return decode_reply<R>(std::move(bytes));
}

// Takes a reference in the server for a proxy decoded here (MG-14).
std::shared_ptr<const proxy_ref> adopt_token(token t);
// Whether this process reaches the manager at `a` over TLS (a client
// context is registered for it), and process_error naming `a` if not.
bool manager_uses_tls(const multiprocessing::address& a);
void check_manager_tls(const multiprocessing::address& a);

struct from_ref {};

}  // namespace detail

/// Python: multiprocessing.managers.BaseProxy: what every proxy shares.
/// Cheap to copy (the copies share the server's reference).
class base_proxy {
 public:
  /// Python: proxy._token.typeid.
  const std::string& type_id() const noexcept { return ref_->tok.type_id; }
  /// Python: proxy._token.address: the manager's address.
  const multiprocessing::address& address() const noexcept { return ref_->tok.address; }
  /// Python: proxy._token.id: the object's id in the server.
  std::uint64_t id() const noexcept { return ref_->tok.id; }
  /// The proxy's reference, for the codec.
  const std::shared_ptr<const detail::proxy_ref>& ref() const noexcept { return ref_; }

  base_proxy(detail::from_ref, std::shared_ptr<const detail::proxy_ref> r) noexcept : ref_(std::move(r)) {}

 protected:
  /// Python: _callmethod(name, args): one request and its reply.
  template <class R, class... A>
  R call_method(std::string_view method, const A&... args) const {
    return detail::decode_reply<R>(
        detail::round_trip(*ref_, detail::encode_request("call", ref_->tok.id, method, args...)));
  }
  /// The same in a running loop (the arguments are encoded at the call).
  template <class R, class... A>
  task<R> call_method_async(std::string_view method, const A&... args) const {
    return detail::call_async<R>(ref_, detail::encode_request("call", ref_->tok.id, method, args...),
                                 detail::lane_of(method));
  }

 private:
  std::shared_ptr<const detail::proxy_ref> ref_;
};

// Both forms of a proxy method in one line: NAME(args) and NAME_async(args).
#define CORIO_PROXY_METHOD_(R, name, params, args) \
  R name params const { return this->template call_method<R> args; }       \
  task<R> name##_async params const { return this->template call_method_async<R> args; }

/// Python: DictProxy, a managed dict (MG-13). Keys and values go through
/// the codec; the server compares keys by their encoding. A missing key
/// raises std::out_of_range (KeyError).
template <class K, class V>
class dict_proxy : public base_proxy {
 public:
  static constexpr std::string_view type_name = "dict";
  using base_proxy::base_proxy;
  /// Python: d[k].
  CORIO_PROXY_METHOD_(V, at, (const K& k), ("__getitem__", k))
  /// Python: d[k] = v.
  CORIO_PROXY_METHOD_(void, set, (const K& k, const V& v), ("__setitem__", k, v))
  /// Python: del d[k].
  CORIO_PROXY_METHOD_(void, erase, (const K& k), ("__delitem__", k))
  /// Python: k in d.
  CORIO_PROXY_METHOD_(bool, contains, (const K& k), ("__contains__", k))
  /// Python: len(d).
  CORIO_PROXY_METHOD_(std::size_t, size, (), ("__len__"))
  /// Python: d.get(k, default).
  CORIO_PROXY_METHOD_(V, get, (const K& k, const V& dflt), ("get", k, dflt))
  /// Python: d.pop(k) (std::out_of_range if missing) and d.pop(k, default).
  CORIO_PROXY_METHOD_(V, pop, (const K& k), ("pop", k))
  CORIO_PROXY_METHOD_(V, pop, (const K& k, const V& dflt), ("pop", k, dflt))
  /// Python: d.setdefault(k, v).
  CORIO_PROXY_METHOD_(V, setdefault, (const K& k, const V& v), ("setdefault", k, v))
  /// Python: d.keys(), d.values(), d.items(): lists, in insertion order.
  CORIO_PROXY_METHOD_(std::vector<K>, keys, (), ("keys"))
  CORIO_PROXY_METHOD_(std::vector<V>, values, (), ("values"))
  using item_list = std::vector<std::pair<K, V>>;
  CORIO_PROXY_METHOD_(item_list, items, (), ("items"))
  /// Python: d.update(items).
  CORIO_PROXY_METHOD_(void, update, (const item_list& kv), ("update", kv))
  /// Python: d.clear().
  CORIO_PROXY_METHOD_(void, clear, (), ("clear"))
  /// Python: d.get(k) (None when missing).
  std::optional<V> find(const K& k) const {
    auto v = this->template call_method<std::vector<V>>("find", k);
    return v.empty() ? std::nullopt : std::optional<V>(std::move(v.front()));
  }
  task<std::optional<V>> find_async(const K& k) const {
    return [](task<std::vector<V>> t) -> task<std::optional<V>> {
      auto v = co_await std::move(t);
      co_return v.empty() ? std::nullopt : std::optional<V>(std::move(v.front()));
    }(this->template call_method_async<std::vector<V>>("find", k));
  }
};

/// Python: ListProxy, a managed list (MG-13). Indexes may be negative, as
/// in Python; one out of range raises std::out_of_range (IndexError), a
/// value not found std::invalid_argument (ValueError).
template <class T>
class list_proxy : public base_proxy {
 public:
  static constexpr std::string_view type_name = "list";
  using base_proxy::base_proxy;
  /// Python: l[i], l[i] = v, del l[i].
  CORIO_PROXY_METHOD_(T, at, (std::int64_t i), ("__getitem__", i))
  CORIO_PROXY_METHOD_(void, set, (std::int64_t i, const T& v), ("__setitem__", i, v))
  CORIO_PROXY_METHOD_(void, erase, (std::int64_t i), ("__delitem__", i))
  /// Python: len(l), v in l.
  CORIO_PROXY_METHOD_(std::size_t, size, (), ("__len__"))
  CORIO_PROXY_METHOD_(bool, contains, (const T& v), ("__contains__", v))
  /// Python: append, extend (and +=), insert, pop, remove, index, count,
  /// reverse, clear.
  CORIO_PROXY_METHOD_(void, append, (const T& v), ("append", v))
  CORIO_PROXY_METHOD_(void, extend, (const std::vector<T>& v), ("extend", v))
  CORIO_PROXY_METHOD_(void, insert, (std::int64_t i, const T& v), ("insert", i, v))
  CORIO_PROXY_METHOD_(T, pop, (), ("pop"))
  CORIO_PROXY_METHOD_(T, pop, (std::int64_t i), ("pop", i))
  CORIO_PROXY_METHOD_(void, remove, (const T& v), ("remove", v))
  CORIO_PROXY_METHOD_(std::size_t, index, (const T& v), ("index", v))
  CORIO_PROXY_METHOD_(std::size_t, count, (const T& v), ("count", v))
  CORIO_PROXY_METHOD_(void, reverse, (), ("reverse"))
  CORIO_PROXY_METHOD_(void, clear, (), ("clear"))
  /// Python: l[:] (or list(l)): a copy of the whole list.
  CORIO_PROXY_METHOD_(std::vector<T>, to_vector, (), ("copy"))
  /// Python: l += v: extends the server's list; the proxy stays.
  list_proxy& operator+=(const std::vector<T>& v) {
    extend(v);
    return *this;
  }
};

/// Python: ArrayProxy, manager.Array(typecode, seq): a fixed-length list
/// (MG-12).
template <class T>
class array_proxy : public base_proxy {
 public:
  static constexpr std::string_view type_name = "array";
  using base_proxy::base_proxy;
  /// Python: len(a), a[i], a[i] = v, a[:].
  CORIO_PROXY_METHOD_(std::size_t, size, (), ("__len__"))
  CORIO_PROXY_METHOD_(T, at, (std::int64_t i), ("__getitem__", i))
  CORIO_PROXY_METHOD_(void, set, (std::int64_t i, const T& v), ("__setitem__", i, v))
  CORIO_PROXY_METHOD_(std::vector<T>, to_vector, (), ("copy"))
};

/// Python: ValueProxy, manager.Value(typecode, value): any codec value,
/// with get and set only (no lock, MG-12).
template <class T>
class value_proxy : public base_proxy {
 public:
  static constexpr std::string_view type_name = "value";
  using base_proxy::base_proxy;
  /// Python: v.get() (v.value), v.set(x) (v.value = x).
  CORIO_PROXY_METHOD_(T, get, (), ("get"))
  CORIO_PROXY_METHOD_(void, set, (const T& v), ("set", v))
};

/// Python: NamespaceProxy, manager.Namespace() (MG-12): attributes by name,
/// each any codec type, read as the type asked for. A missing attribute
/// raises std::out_of_range (AttributeError); names starting with '_' are
/// refused with std::invalid_argument (Python keeps them on the proxy,
/// which a C++ proxy cannot hold).
class namespace_proxy : public base_proxy {
 public:
  static constexpr std::string_view type_name = "namespace";
  using base_proxy::base_proxy;
  /// Python: ns.name.
  template <class T>
  T get(std::string_view name) const {
    check_name(name);
    return call_method<T>("__getattribute__", name);
  }
  template <class T>
  task<T> get_async(std::string_view name) const {
    check_name(name);
    return call_method_async<T>("__getattribute__", name);
  }
  /// Python: ns.name = v.
  template <class T>
  void set(std::string_view name, const T& v) const {
    check_name(name);
    call_method<void>("__setattr__", name, v);
  }
  template <class T>
  task<void> set_async(std::string_view name, const T& v) const {
    check_name(name);
    return call_method_async<void>("__setattr__", name, v);
  }
  /// Python: del ns.name.
  void erase(std::string_view name) const {
    check_name(name);
    call_method<void>("__delattr__", name);
  }
  task<void> erase_async(std::string_view name) const {
    check_name(name);
    return call_method_async<void>("__delattr__", name);
  }
  /// Python: hasattr(ns, name).
  bool contains(std::string_view name) const { return call_method<bool>("__contains__", name); }
  task<bool> contains_async(std::string_view name) const { return call_method_async<bool>("__contains__", name); }
  /// The attributes' names, sorted (what repr(ns) lists).
  std::vector<std::string> names() const { return call_method<std::vector<std::string>>("__dir__"); }
  task<std::vector<std::string>> names_async() const { return call_method_async<std::vector<std::string>>("__dir__"); }

 private:
  static void check_name(std::string_view name);
};

namespace detail {
using opt_seconds = std::optional<double>;
inline opt_seconds seconds_of(std::optional<std::chrono::duration<double>> t) {
  return t ? opt_seconds(t->count()) : std::nullopt;
}
}  // namespace detail

/// Python: a managed queue.Queue (manager.Queue(), manager.JoinableQueue()):
/// put and get with Python's block and timeout (queue_full and queue_empty
/// come through), task_done and join (MG-10, MG-20). A waiting call waits
/// in the server's loop, holding up no other client.
template <class T>
class queue_proxy : public base_proxy {
 public:
  using duration = std::chrono::duration<double>;
  static constexpr std::string_view type_name = "queue";
  using base_proxy::base_proxy;
  /// Python: q.put(item, block=True, timeout=None).
  void put(const T& v, bool block = true, std::optional<duration> timeout = std::nullopt) const {
    call_method<void>("put", v, block, detail::seconds_of(timeout));
  }
  task<void> put_async(const T& v, bool block = true, std::optional<duration> timeout = std::nullopt) const {
    return call_method_async<void>("put", v, block, detail::seconds_of(timeout));
  }
  /// Python: q.get(block=True, timeout=None).
  T get(bool block = true, std::optional<duration> timeout = std::nullopt) const {
    return call_method<T>("get", block, detail::seconds_of(timeout));
  }
  task<T> get_async(bool block = true, std::optional<duration> timeout = std::nullopt) const {
    return call_method_async<T>("get", block, detail::seconds_of(timeout));
  }
  /// Python: put_nowait, get_nowait, qsize, empty, full, task_done, join.
  CORIO_PROXY_METHOD_(void, put_nowait, (const T& v), ("put_nowait", v))
  CORIO_PROXY_METHOD_(T, get_nowait, (), ("get_nowait"))
  CORIO_PROXY_METHOD_(std::size_t, qsize, (), ("qsize"))
  CORIO_PROXY_METHOD_(bool, empty, (), ("empty"))
  CORIO_PROXY_METHOD_(bool, full, (), ("full"))
  CORIO_PROXY_METHOD_(void, task_done, (), ("task_done"))
  CORIO_PROXY_METHOD_(void, join, (), ("join"))
};

/// Python: AcquirerProxy, a managed Lock, RLock, Semaphore or
/// BoundedSemaphore. A Lock or Semaphore lives in the server: taken by a
/// process that exits, it stays taken, and any client may release it; an
/// RLock belongs to the connection, that is the (process, thread), that
/// acquired it (MG-11). lock() and unlock() make it BasicLockable
/// (std::lock_guard, Python's `with`).
class acquirer_proxy : public base_proxy {
 public:
  using duration = std::chrono::duration<double>;
  static constexpr std::string_view type_name = "lock";
  static bool accepts(std::string_view t) {
    return t == "lock" || t == "rlock" || t == "semaphore" || t == "bounded_semaphore";
  }
  using base_proxy::base_proxy;
  /// Python: acquire(blocking=True, timeout=None): false if not acquired.
  bool acquire(bool blocking = true, std::optional<duration> timeout = std::nullopt) const {
    return call_method<bool>("acquire", blocking, detail::seconds_of(timeout));
  }
  task<bool> acquire_async(bool blocking = true, std::optional<duration> timeout = std::nullopt) const {
    return call_method_async<bool>("acquire", blocking, detail::seconds_of(timeout));
  }
  /// Python: release(): std::runtime_error for an unlocked Lock or an RLock
  /// not held by this thread, std::invalid_argument past a
  /// BoundedSemaphore's value.
  CORIO_PROXY_METHOD_(void, release, (), ("release"))
  void lock() const { acquire(); }
  void unlock() const { release(); }
};

/// Python: a managed threading.Condition (over an RLock in the server).
class condition_proxy : public base_proxy {
 public:
  using duration = std::chrono::duration<double>;
  static constexpr std::string_view type_name = "condition";
  using base_proxy::base_proxy;
  bool acquire(bool blocking = true, std::optional<duration> timeout = std::nullopt) const {
    return call_method<bool>("acquire", blocking, detail::seconds_of(timeout));
  }
  task<bool> acquire_async(bool blocking = true, std::optional<duration> timeout = std::nullopt) const {
    return call_method_async<bool>("acquire", blocking, detail::seconds_of(timeout));
  }
  CORIO_PROXY_METHOD_(void, release, (), ("release"))
  /// Python: wait(timeout=None): false if the time ran out.
  bool wait(std::optional<duration> timeout = std::nullopt) const {
    return call_method<bool>("wait", detail::seconds_of(timeout));
  }
  task<bool> wait_async(std::optional<duration> timeout = std::nullopt) const {
    return call_method_async<bool>("wait", detail::seconds_of(timeout));
  }
  /// Python: notify(n=1), notify_all().
  CORIO_PROXY_METHOD_(void, notify, (std::size_t n = 1), ("notify", n))
  CORIO_PROXY_METHOD_(void, notify_all, (), ("notify_all"))
  void lock() const { acquire(); }
  void unlock() const { release(); }
};

/// Python: EventProxy, a managed threading.Event.
class event_proxy : public base_proxy {
 public:
  using duration = std::chrono::duration<double>;
  static constexpr std::string_view type_name = "event";
  using base_proxy::base_proxy;
  CORIO_PROXY_METHOD_(bool, is_set, (), ("is_set"))
  CORIO_PROXY_METHOD_(void, set, (), ("set"))
  CORIO_PROXY_METHOD_(void, clear, (), ("clear"))
  /// Python: wait(timeout=None): whether the event is set.
  bool wait(std::optional<duration> timeout = std::nullopt) const {
    return call_method<bool>("wait", detail::seconds_of(timeout));
  }
  task<bool> wait_async(std::optional<duration> timeout = std::nullopt) const {
    return call_method_async<bool>("wait", detail::seconds_of(timeout));
  }
};

/// Python: BarrierProxy, a managed threading.Barrier: a wait that times
/// out breaks it (broken_barrier_error).
class barrier_proxy : public base_proxy {
 public:
  using duration = std::chrono::duration<double>;
  static constexpr std::string_view type_name = "barrier";
  using base_proxy::base_proxy;
  /// Python: wait(timeout=None): the arrival index.
  std::size_t wait(std::optional<duration> timeout = std::nullopt) const {
    return timeout ? call_method<std::size_t>("wait", detail::seconds_of(timeout)) : call_method<std::size_t>("wait");
  }
  task<std::size_t> wait_async(std::optional<duration> timeout = std::nullopt) const {
    return timeout ? call_method_async<std::size_t>("wait", detail::seconds_of(timeout))
                   : call_method_async<std::size_t>("wait");
  }
  CORIO_PROXY_METHOD_(void, abort, (), ("abort"))
  CORIO_PROXY_METHOD_(void, reset, (), ("reset"))
  CORIO_PROXY_METHOD_(std::size_t, parties, (), ("parties"))
  CORIO_PROXY_METHOD_(std::size_t, n_waiting, (), ("n_waiting"))
  CORIO_PROXY_METHOD_(bool, broken, (), ("broken"))
};

namespace detail {
template <class P>
concept proxy_type = std::is_base_of_v<base_proxy, P> && requires { P::type_name; };
template <class P>
bool proxy_accepts(std::string_view t) {
  if constexpr (requires { P::accepts(t); }) {
    return P::accepts(t);
  } else {
    return t == P::type_name;
  }
}
}  // namespace detail

/// A proxy crosses a process as [typeid, address, id] (MG-14), with `true`
/// after them when this process reaches the manager over TLS; decoding it
/// takes a reference in the server (connecting to it, over TLS with the
/// context registered for the address: register_manager_ssl), and a typeid
/// other than the proxy type's is a codec_error.
template <class P>
  requires detail::proxy_type<P>
struct codec<P> {
  // [typeid, address, id], and `true` after them for a manager reached
  // over TLS, whose receiver must have a client context for the address.
  static void encode(packer& p, const P& v) {
    const bool tls = detail::manager_uses_tls(v.address());
    p.pack_array(tls ? 4 : 3);
    codec<std::string>::encode(p, v.type_id());
    codec<multiprocessing::address>::encode(p, v.address());
    codec<std::uint64_t>::encode(p, v.id());
    if (tls) codec<bool>::encode(p, true);
  }
  static P decode(const object& o) {
    const bool tls = o.type == msgpack::type::ARRAY && o.via.array.size == 4;
    detail::check_array<P>(o, tls ? 4 : 3);
    if (tls && codec<bool>::decode(o.via.array.ptr[3]))
      detail::check_manager_tls(codec<multiprocessing::address>::decode(o.via.array.ptr[1]));
    detail::token t{codec<std::string>::decode(o.via.array.ptr[0]), codec<multiprocessing::address>::decode(o.via.array.ptr[1]),
                    codec<std::uint64_t>::decode(o.via.array.ptr[2])};
    if (!detail::proxy_accepts<P>(t.type_id)) detail::mismatch<P>(o, "a proxy of another typeid");
    return P(detail::from_ref{}, detail::adopt_token(std::move(t)));
  }
};

}  // namespace corio::multiprocessing
