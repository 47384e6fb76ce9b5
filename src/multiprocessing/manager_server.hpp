// A manager's server, internal to the library: the objects it holds
// (referents, type-erased: values are kept as their codec encoding), the
// loop serving the connections, and the two places where the transport is
// made (manager_accept.cpp: accept a connection and authenticate it;
// manager_connect.cpp: connect and authenticate).
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/connection.hpp>
#include <corio/multiprocessing/managers.hpp>
#include <corio/socket.hpp>
#include <corio/tasks.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace corio::multiprocessing::detail {

// The arguments of a request: an array of codec values.
class call_args {
 public:
  explicit call_args(const object& a);
  std::size_t size() const noexcept { return n_; }
  const object& operator[](std::size_t i) const;
  // The canonical encoding of argument i (what the server stores and
  // compares: decoding and re-encoding makes equal values equal bytes).
  std::string bytes(std::size_t i) const;
  template <class T>
  T get(std::size_t i) const {
    return codec<T>::decode((*this)[i]);
  }
  // std::invalid_argument-style machinery error unless there are n (or
  // between lo and hi) arguments.
  void expect(std::string_view method, std::size_t lo, std::size_t hi) const;
  void expect(std::string_view method, std::size_t n) const { expect(method, n, n); }

 private:
  const object* p_ = nullptr;
  std::size_t n_ = 0;
};

// The reply being built: [status, payload]. A method writes its result
// with one of the set_* calls (none: nil).
class reply_writer {
 public:
  reply_writer();
  void set_raw(std::string_view encoded);
  template <class T>
  void set(const T& v) {
    payload_.clear();
    encode_into(payload_, v);
  }
  // An array of encoded values.
  void set_array(const std::vector<const std::string*>& items);
  std::string finish_ok() const;
  static std::string error(std::exception_ptr e);

 private:
  std::string payload_;
};

// What a connection holds in the server: whose request it is (an rlock or
// a condition belongs to the connection that acquired it, MG-11).
struct client_state {
  std::uint64_t id = 0;
};

// A shared object in the server.
class referent {
 public:
  virtual ~referent() = default;
  // Runs `method` at once if it never waits: false if it is not one of
  // those (then call_async runs it).
  virtual bool call(std::string_view method, const call_args& a, reply_writer& out, client_state& c) = 0;
  // A method that may wait on the server's loop. The default: the method
  // does not exist.
  virtual task<void> call_async(std::string method, const call_args& a, reply_writer& out, client_state& c);
};

// The machinery errors of MG-07: raised as remote_error.
[[noreturn]] void no_such_method(std::string_view type_id, std::string_view method);
[[noreturn]] void machinery_error(const std::string& message);

// The built-in typeids (manager_referents.cpp): a referent from the
// creation arguments, or none for an unknown typeid.
std::unique_ptr<referent> make_builtin(std::string_view type_id, const call_args& a);
// The queues and synchronization objects (manager_sync_referents.cpp).
std::unique_ptr<referent> make_sync_builtin(std::string_view type_id, const call_args& a);

// -- transport ----------------------------------------------------------------------

// Binds and listens at `address` (none: a fresh AF_UNIX path); the real
// address is in `bound`.
socket manager_listen(const std::optional<socket_address>& address, socket_address& bound);
// Makes an accepted socket a connection, after the handshake with `authkey`.
task<connection> manager_authenticate(socket s, std::string authkey);
// Connects to a server and performs the handshake, blocking.
connection manager_connect(const socket_address& address, const std::string& authkey);
// The same in a running loop.
task<connection> manager_connect_async(socket_address address, std::string authkey);

// -- the server ----------------------------------------------------------------------

// What the server process runs: binds, reports its address (or the
// exception that stopped it) on `report`, serves until a shutdown request.
struct server_config {
  std::optional<socket_address> address;
  std::string authkey;
  CORIO_CODEC(address, authkey)
};
void manager_server_main(server_config cfg, connection report);

}  // namespace corio::multiprocessing::detail

namespace corio::multiprocessing::detail {
// One request and its reply at `a` on the thread's connection.
std::string round_trip_raw(const socket_address& a, const std::string& authkey, const std::string& request);
// After a manager's shutdown: connections opened before are not used again.
void forget_manager_connections() noexcept;
}  // namespace corio::multiprocessing::detail
