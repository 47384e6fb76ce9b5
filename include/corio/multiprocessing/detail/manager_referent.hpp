// The server's side of a shared object, for the types a manager serves:
// the built-in ones (src/multiprocessing/manager_*referents.cpp) and the
// user types registered with base_manager::register_type, whose dispatch
// is generated from CORIO_EXPOSE. Internal to the library.
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/tasks.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace corio::multiprocessing::detail
