// Python: multiprocessing.managers: BaseManager, SyncManager and
// multiprocessing.Manager().
//
// A manager runs a server process that owns shared objects; clients hold
// proxies to them (proxy.hpp). The server runs one corio event loop: each
// connection is a task answering its requests in order, connections are
// served side by side, and a method that waits (a queue's get, a lock's
// acquire) waits on the server's loop without holding up other clients.
// The server is type-erased: it keeps values as their codec encoding, so a
// server started with spawn or forkserver needs none of the clients'
// types; the proxies are typed on the client side.
//
//   auto m = corio::multiprocessing::manager();   // started (MG-01)
//   auto d = m.dict<std::string, int>();
//   d.set("a", 1);
//   int a = d.at("a");
//
// A manager goes from initial to started to shut down (MG-02); destroying a
// manager that started its server shuts the server down (Python's `with`).
//
// A manager reached across a network can speak TLS (manager_ssl): the
// server presents a certificate, clients verify it, and the authkey
// handshake runs inside the TLS channel (departure 130).
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/multiprocessing/exposed.hpp>
#include <corio/multiprocessing/proxy.hpp>
#include <corio/multiprocessing/address.hpp>
#include <corio/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::multiprocessing {

/// The largest request a manager's server reads (the connection's
/// recv_bytes maxlength); a longer one closes that client's connection.
inline constexpr std::size_t manager_max_message = 64 * 1024 * 1024;

namespace detail {
struct manager_state;
struct serving;
}  // namespace detail

/// A function that builds a manager server's ssl_context in the server
/// process (manager_ssl::server_factory). It crosses to a server started
/// with spawn or forkserver as code, the way a process's target does, so it
/// is a function or a capture-less lambda taking nothing and returning an
/// ssl_context; anything else does not compile. Python has no such thing
/// (departure 130).
class ssl_context_factory {
 public:
  using function = ssl_context (*)();
  constexpr ssl_context_factory() noexcept = default;
  constexpr ssl_context_factory(std::nullptr_t) noexcept {}
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ssl_context_factory>)
  ssl_context_factory(const F& f) noexcept : fn_(checked(f)) {}
  /// The function (null: none).
  function get() const noexcept { return fn_; }
  explicit operator bool() const noexcept { return fn_ != nullptr; }

 private:
  template <class F>
  static function checked(const F& f) noexcept {
    if constexpr (!detail::function_like<const F&>) {
      static_assert(detail::function_like<const F&>,
                    "manager_ssl::server_factory: must be a function or a capture-less lambda (it crosses to the "
                    "server process as code)");
      return nullptr;
    } else if constexpr (!std::is_convertible_v<decltype(+f), function>) {
      static_assert(std::is_convertible_v<decltype(+f), function>,
                    "manager_ssl::server_factory: must take no argument and return an ssl_context");
      return nullptr;
    } else {
      return +f;
    }
  }
  function fn_ = nullptr;
};

/// TLS for a manager reached across a network (corio's addition, departure
/// 130; Python code would wrap the sockets in ssl itself). The authkey
/// stays the authorization; TLS adds confidentiality and the server's
/// identity.
struct manager_ssl {
  /// The server's context (ssl_protocol::tls_server, with load_cert_chain):
  /// the server this manager starts, or get_server() builds, speaks only
  /// TLS. An OpenSSL context has no encoding: it reaches a started server
  /// by fork only, and start() with another method raises
  /// std::invalid_argument (use server_factory).
  std::optional<ssl_context> server{};
  /// The clients' context (ssl_protocol::tls_client, with the CAs that
  /// verify the server): this manager's connections, and those of every
  /// proxy of its address in this process, use TLS with it (see
  /// register_manager_ssl). Needed with `server` for start().
  std::optional<ssl_context> client{};
  /// The name the server's certificate must carry; empty: the address's
  /// host (a name or an IP address).
  std::string server_hostname{};
  /// Instead of `server`: the function that builds the server's context in
  /// the server process, with any start method. start() raises
  /// process_error naming the address when it throws there (the exception
  /// nested); get_server() calls it in the calling process.
  ssl_context_factory server_factory{};
};

/// The client context this process uses for every connection to the
/// manager at `address`: its manager's, its proxies', and those of proxies
/// received from other processes (a proxy of a TLS manager says so when it
/// crosses, and decoding one raises process_error naming the address while
/// no context is registered for it). A forked child inherits the
/// registrations. Replaces an earlier one; a manager with manager_ssl::client
/// registers it when it starts or connects. std::invalid_argument for a
/// server context. Python has no such thing (departure 130).
void register_manager_ssl(const multiprocessing::address& address, ssl_context client,
                          std::string server_hostname = {});

/// Python: multiprocessing.managers.Server, as get_server() returns it:
/// bound at once, served by serve_forever() in the calling thread.
class manager_server {
 public:
  /// Python: address: the address bound.
  const multiprocessing::address& address() const noexcept;
  /// Python: serve_forever(): serves on a corio loop in this thread until
  /// a shutdown request, then returns (Python exits the process,
  /// departure 124). Once.
  void serve_forever();

 private:
  friend class base_manager;
  explicit manager_server(std::shared_ptr<detail::serving> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::serving> s_;
};

/// Python: multiprocessing.managers.BaseManager(address, authkey).
/// Move-only. Misuse raises process_error with Python's messages
/// ("Already started server", "Manager has shut down").
class base_manager {
 public:
  using duration = std::chrono::duration<double>;
  /// Python: State.INITIAL, STARTED, SHUTDOWN.
  enum class state { initial, started, shutdown };

  /// `address`: none lets the system choose an AF_UNIX path (MG-17); an
  /// (host, 0) address binds a free TCP port. `authkey`: none takes
  /// current_process().authkey() (MG-16).
  explicit base_manager(std::optional<multiprocessing::address> address = std::nullopt,
                        std::optional<std::string> authkey = std::nullopt);
  /// The same over TLS (manager_ssl). std::invalid_argument for a context
  /// of the wrong side.
  base_manager(std::optional<multiprocessing::address> address, std::optional<std::string> authkey, manager_ssl ssl);
  base_manager(base_manager&&) noexcept;
  base_manager& operator=(base_manager&&) noexcept;
  base_manager(const base_manager&) = delete;
  base_manager& operator=(const base_manager&) = delete;
  /// Shuts down a server this manager started.
  virtual ~base_manager();

  /// Python: start(): starts the server process (with the default
  /// context's start method) and returns once it has reported its address
  /// (MG-18).
  void start();
  /// The same with `ctx`'s start method.
  void start(const context& ctx);
  /// Python: get_server(): the server, built and bound in this process
  /// (MG-18), with this manager's registrations. The manager's state does
  /// not change.
  manager_server get_server() const;
  /// Python: connect(): joins a server already running at address() (MG-19).
  void connect();
  /// Python: shutdown(): asks the server to stop, waits `timeout` (Python's
  /// shutdown_timeout, 1 s), then terminates it, then kills it (MG-03).
  /// Idempotent; nothing for a manager that only connected.
  void shutdown(duration timeout = std::chrono::seconds(1));
  /// Python: address: the real address once started (MG-17).
  const multiprocessing::address& address() const;
  /// Python: _state.value.
  state get_state() const noexcept;
  /// The server process's pid (none unless this manager started it).
  std::optional<pid_t> server_pid() const;
  /// Binds this manager's connections, and those of the proxies it makes,
  /// to `source` (port 0: any) before connecting: a client host's address
  /// on a machine with several (the example of remote workers uses
  /// 127.0.0.2, 127.0.0.3...). Python's Client has no such option.
  void bind_client(multiprocessing::address source);
  /// Python: _number_of_objects(): the objects the server holds now.
  std::size_t number_of_objects() const;

  /// Python: register(typeid, callable) (MG-09): `typeid(args...)` makes
  /// `factory(args...)` in the server and returns a proxy<T> (exposed.hpp).
  /// The factory returns a T, or a std::shared_ptr<T> (returning the same
  /// one each time shares one object, as Python's callables returning a
  /// module-level object do). It is a function (or a capture-less lambda),
  /// so that it reaches a server started with spawn or forkserver. Before
  /// start().
  template <class T, class R, class... P>
    requires(std::is_same_v<R, T> || std::is_same_v<R, std::shared_ptr<T>>)
  void register_type(std::string type_id, R (*factory)(P...)) {
    register_raw(std::move(type_id), "user", reinterpret_cast<detail::any_fn>(&detail::make_user<T, R (*)(P...)>),
                 reinterpret_cast<detail::any_fn>(factory), 0);
  }
  template <class T, class F>
    requires detail::function_like<const F&>
  void register_type(std::string type_id, F f) {
    register_type<T>(std::move(type_id), +f);
  }
  /// MG-20: a typeid every call of which returns a proxy to one queue of
  /// the server (Python: register('get_task_queue', callable=lambda: q)).
  void register_queue(std::string type_id, std::int64_t maxsize = 0) {
    register_raw(std::move(type_id), "queue", nullptr, nullptr, maxsize);
  }

  /// Python: manager.typeid(args...): creates (or, for a shared typeid,
  /// fetches) an object of a typeid registered in the server, as P
  /// (proxy<T>, or queue_proxy<T> for register_queue). A typeid the
  /// server does not know raises remote_error. A manager that only
  /// connected needs no registration (Python: callables left out, MG-19).
  template <class P, class... A>
  P make(std::string_view type_id, const A&... args) const {
    return create_as<P>(type_id, P::type_name.empty() ? type_id : P::type_name, args...);
  }

 protected:
  /// Creates an object of `type_id` in the server from the encoded array
  /// of arguments, as `P`.
  template <class P, class... A>
  P create(std::string_view type_id, const A&... args) const {
    return create_as<P>(type_id, type_id, args...);
  }
  template <class P, class... A>
  P create_as(std::string_view type_id, std::string_view proxy_kind, const A&... args) const {
    return P(detail::from_ref{}, create_raw(proxy_kind, detail::encode_request("create", 0, type_id, args...)));
  }
  std::shared_ptr<const detail::proxy_ref> create_raw(std::string_view type_id, const std::string& request) const;

 private:
  void register_raw(std::string type_id, const char* kind, detail::any_fn maker, detail::any_fn factory,
                    std::int64_t maxsize);
  void check_started(const char* what) const;
  std::unique_ptr<detail::manager_state> s_;
};

/// Python: multiprocessing.managers.SyncManager: a base_manager with the
/// shared types of MG-10 registered.
class sync_manager : public base_manager {
 public:
  using base_manager::base_manager;

  /// Python: manager.dict(), manager.dict(items).
  template <class K, class V>
  dict_proxy<K, V> dict(const std::vector<std::pair<K, V>>& items = {}) const {
    return create<dict_proxy<K, V>>("dict", items);
  }
  /// Python: manager.list(), manager.list(seq).
  template <class T>
  list_proxy<T> list(const std::vector<T>& items = {}) const {
    return create<list_proxy<T>>("list", items);
  }
  /// Python: manager.Value(typecode, value) (the typecode is not needed).
  template <class T>
  value_proxy<T> value(const T& v) const {
    return create<value_proxy<T>>("value", v);
  }
  /// Python: manager.Array(typecode, seq).
  template <class T>
  array_proxy<T> array(const std::vector<T>& items) const {
    return create<array_proxy<T>>("array", items);
  }
  /// Python: manager.Namespace().
  namespace_proxy namespace_() const { return create<namespace_proxy>("namespace"); }
  /// Python: manager.Queue(maxsize), manager.JoinableQueue(maxsize): both
  /// a queue.Queue in the server, with task_done and join.
  template <class T>
  queue_proxy<T> queue(std::int64_t maxsize = 0) const {
    return create<queue_proxy<T>>("queue", maxsize);
  }
  template <class T>
  queue_proxy<T> joinable_queue(std::int64_t maxsize = 0) const {
    return create<queue_proxy<T>>("queue", maxsize);
  }
  /// Python: manager.Lock(), RLock(), Semaphore(n), BoundedSemaphore(n).
  acquirer_proxy lock() const { return create<acquirer_proxy>("lock"); }
  acquirer_proxy rlock() const { return create<acquirer_proxy>("rlock"); }
  acquirer_proxy semaphore(std::int64_t value = 1) const { return create<acquirer_proxy>("semaphore", value); }
  acquirer_proxy bounded_semaphore(std::int64_t value = 1) const {
    return create<acquirer_proxy>("bounded_semaphore", value);
  }
  /// Python: manager.Condition() (over a managed RLock).
  condition_proxy condition() const { return create<condition_proxy>("condition"); }
  /// Python: manager.Event().
  event_proxy event() const { return create<event_proxy>("event"); }
  /// Python: manager.Barrier(parties, timeout=None).
  barrier_proxy barrier(std::size_t parties, std::optional<std::chrono::duration<double>> timeout = std::nullopt) const {
    return create<barrier_proxy>("barrier", parties, detail::seconds_of(timeout));
  }
};

/// Python: multiprocessing.Manager(): a started sync_manager (MG-01).
sync_manager manager();

}  // namespace corio::multiprocessing
