// The codec's out-of-line parts: parsing with bounds, error messages, and
// exceptions crossing (see multiprocessing/codec.hpp, errors.hpp).
#include <corio/multiprocessing/codec.hpp>

#include <corio/detail/repr.hpp>
#include <corio/exceptions.hpp>
#include <corio/futures/executor.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/multiprocessing/pool.hpp>
#include <corio/os_errors.hpp>

#include <cxxabi.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>

namespace corio::multiprocessing {

namespace detail {

std::string codec_type_name(const std::type_info& t) { return corio::detail::type_name(t); }

const char* codec_kind(const object& o) noexcept {
  switch (o.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "a bool";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "an int";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "a float";
    case msgpack::type::STR:
      return "a str";
    case msgpack::type::BIN:
      return "a bin";
    case msgpack::type::ARRAY:
      return "an array";
    case msgpack::type::MAP:
      return "a map";
    case msgpack::type::EXT:
      return "an ext";
  }
  return "an unknown value";
}

void codec_mismatch(const std::type_info& want, const object& o, const char* why) {
  std::string m = "codec: cannot decode " + codec_type_name(want) + " from " + codec_kind(o);
  if (o.type == msgpack::type::ARRAY) m += " of " + std::to_string(o.via.array.size);
  if (o.type == msgpack::type::MAP) m += " of " + std::to_string(o.via.map.size);
  if (o.type == msgpack::type::POSITIVE_INTEGER) m += " (" + std::to_string(o.via.u64) + ")";
  if (o.type == msgpack::type::NEGATIVE_INTEGER) m += " (" + std::to_string(o.via.i64) + ")";
  if (why) {
    m += ": ";
    m += why;
  }
  throw codec_error(m);
}

msgpack::object_handle parse_exactly(std::string_view data, const std::type_info& want) {
  // Every element takes at least one byte, so no count may exceed the input:
  // a header claiming four billion elements fails before any allocation.
  const std::size_t n = data.size();
  const auto cap = static_cast<std::size_t>(n > 0xffffffffu ? 0xffffffffu : n);
  const msgpack::unpack_limit limit(cap, cap, cap, cap, cap, 256);
  std::size_t off = 0;
  msgpack::object_handle h;
  try {
    // Strings and binaries are referenced in `data`, not copied: the handle
    // lives only while the caller converts it.
    h = msgpack::unpack(
        data.data(), n, off, [](msgpack::type::object_type, std::size_t, void*) { return true; }, nullptr, limit);
  } catch (const msgpack::insufficient_bytes&) {
    throw codec_error("codec: truncated data for " + codec_type_name(want) + " (" + std::to_string(n) + " bytes)");
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw codec_error("codec: malformed data for " + codec_type_name(want) + ": " + e.what());
  }
  if (off != n)
    throw codec_error("codec: " + std::to_string(n - off) + " bytes left over after a " + codec_type_name(want));
  return h;
}

thread_local std::vector<int>* tl_fds_out = nullptr;
thread_local const std::vector<int>* tl_fds_in = nullptr;

std::size_t share_fd(int fd, const char* what) {
  if (!tl_fds_out)
    throw codec_error(std::string("codec: ") + what +
                      " crosses a process only as an argument of a process being started (inheritance), not in a "
                      "message");
  tl_fds_out->push_back(fd);
  return tl_fds_out->size() - 1;
}

fd_collector::fd_collector() noexcept : prev_(std::exchange(tl_fds_out, &fds)) {}
fd_collector::~fd_collector() { tl_fds_out = prev_; }
fd_provider::fd_provider(const std::vector<int>& fds) noexcept : prev_(std::exchange(tl_fds_in, &fds)) {}
fd_provider::~fd_provider() { tl_fds_in = prev_; }

int received_fd(std::size_t index, const char* what) {
  if (!tl_fds_in || index >= tl_fds_in->size())
    throw codec_error(std::string("codec: ") + what + " refers to an fd this process was not given");
  return (*tl_fds_in)[index];
}

bool sharing_fds() noexcept { return tl_fds_out != nullptr; }

namespace {
thread_local std::vector<int> tl_close_after;
}

void close_after_decoding(int fd) { tl_close_after.push_back(fd); }

void received_fds_done() noexcept {
  // A spawned child gets an fd listed twice under one number: close it once.
  std::sort(tl_close_after.begin(), tl_close_after.end());
  tl_close_after.erase(std::unique(tl_close_after.begin(), tl_close_after.end()), tl_close_after.end());
  for (const int fd : tl_close_after) ::close(fd);
  tl_close_after.clear();
}

}  // namespace detail

// -- exceptions ----------------------------------------------------------------

namespace {

std::string demangle_raw(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && p ? std::string(p.get()) : std::string(name);
}

struct exception_fields {
  std::string type, message, traceback;
  int err = 0;
  std::string filename;
};

exception_fields fields_of(const std::exception_ptr& e) {
  exception_fields f;
  try {
    std::rethrow_exception(e);
  } catch (const remote_error& x) {  // crossing again: keep the original
    f.type = x.type();
    f.message = x.message();
    f.traceback = x.traceback();
    return f;
  } catch (const os_error& x) {
    f.type = corio::detail::type_name(typeid(x));
    f.message = x.what();
    f.err = x.error_number();
    f.filename = x.filename();
  } catch (const std::system_error& x) {
    f.type = corio::detail::type_name(typeid(x));
    f.message = x.what();
    if (x.code().category() == std::generic_category() || x.code().category() == std::system_category())
      f.err = x.code().value();
  } catch (const std::exception& x) {
    f.type = corio::detail::type_name(typeid(x));
    f.message = x.what();
  } catch (const base_exception& x) {
    f.type = corio::detail::type_name(typeid(x));
    f.message = x.what();
    if (const auto* se = dynamic_cast<const system_exit*>(&x)) f.err = se->code();
  } catch (...) {
    const std::type_info* ti = abi::__cxa_current_exception_type();
    f.type = ti ? demangle_raw(ti->name()) : std::string("unknown exception");
  }
  // An exception that crossed once is rethrown here nested over its
  // traceback (std::throw_with_nested: its dynamic type is
  // std::_Nested_exception<E>). Crossing again it is an E, with the
  // traceback of where it was raised first.
  constexpr std::string_view wrapper = "std::_Nested_exception<";
  if (f.type.size() > wrapper.size() && f.type.starts_with(wrapper) && f.type.back() == '>') {
    f.type = f.type.substr(wrapper.size(), f.type.size() - wrapper.size() - 1);
    try {
      std::rethrow_exception(e);
    } catch (const std::nested_exception& n) {
      try {
        n.rethrow_nested();
      } catch (const remote_traceback& tb) {
        f.traceback = tb.what();
        return f;
      } catch (...) {
      }
    } catch (...) {
    }
  }
  f.traceback = "Traceback (in process " + std::to_string(::getpid()) + "):\n" + f.type +
                (f.message.empty() ? std::string() : ": " + f.message) + "\n";
  return f;
}

// os_error's what() is "<context>: <strerror>"; the context alone is what
// its constructor takes.
std::string os_context(const std::string& message, int err) {
  const std::string tail = std::string(": ") + std::strerror(err);
  if (message.size() >= tail.size() && message.compare(message.size() - tail.size(), tail.size(), tail) == 0)
    return message.substr(0, message.size() - tail.size());
  return message;
}

using maker = std::function<std::exception_ptr(const exception_fields&)>;

template <class E>
maker msg_maker() {
  return [](const exception_fields& f) { return std::make_exception_ptr(E(f.message)); };
}

// Throws an E nested over the traceback (Python: raise E from RemoteTraceback).
template <class E>
std::exception_ptr nested(E e, const std::string& tb) {
  try {
    try {
      throw remote_traceback(tb);
    } catch (...) {
      std::throw_with_nested(std::move(e));
    }
  } catch (...) {
    return std::current_exception();
  }
}

template <class E>
maker nested_maker() {
  return [](const exception_fields& f) {
    if constexpr (std::is_constructible_v<E, const std::string&>) {
      return nested(E(f.message), f.traceback);
    } else {
      return nested(E(), f.traceback);  // its message is fixed
    }
  };
}

const std::unordered_map<std::string, maker>& known_types() {
  static const auto* const table = new std::unordered_map<std::string, maker>{
      // The standard library's families.
      {"std::logic_error", nested_maker<std::logic_error>()},
      {"std::invalid_argument", nested_maker<std::invalid_argument>()},
      {"std::domain_error", nested_maker<std::domain_error>()},
      {"std::length_error", nested_maker<std::length_error>()},
      {"std::out_of_range", nested_maker<std::out_of_range>()},
      {"std::runtime_error", nested_maker<std::runtime_error>()},
      {"std::range_error", nested_maker<std::range_error>()},
      {"std::overflow_error", nested_maker<std::overflow_error>()},
      {"std::underflow_error", nested_maker<std::underflow_error>()},
      {"std::bad_alloc", [](const exception_fields&) { return std::make_exception_ptr(std::bad_alloc()); }},
      // corio's.
      {"corio::invalid_state_error", nested_maker<invalid_state_error>()},
      {"corio::timeout_error", nested_maker<corio::timeout_error>()},
      {"corio::broken_barrier_error", nested_maker<broken_barrier_error>()},
      {"corio::queue_empty", nested_maker<queue_empty>()},
      {"corio::queue_full", nested_maker<queue_full>()},
      {"corio::queue_shut_down", nested_maker<queue_shut_down>()},
      {"corio::generator_not_started", nested_maker<generator_not_started>()},
      {"corio::generator_running", nested_maker<generator_running>()},
      {"corio::futures::broken_executor", nested_maker<futures::broken_executor>()},
      {"corio::futures::broken_thread_pool", nested_maker<futures::broken_thread_pool>()},
      {"corio::multiprocessing::process_error", nested_maker<process_error>()},
      {"corio::multiprocessing::timeout_error", nested_maker<timeout_error>()},
      {"corio::multiprocessing::authentication_error", nested_maker<authentication_error>()},
      {"corio::multiprocessing::eof_error", nested_maker<eof_error>()},
      {"corio::multiprocessing::codec_error", nested_maker<codec_error>()},
      {"corio::multiprocessing::worker_lost_error", nested_maker<worker_lost_error>()},
      {"corio::multiprocessing::broken_pool_error", nested_maker<broken_pool_error>()},
      {"corio::multiprocessing::pool_terminated_error", nested_maker<pool_terminated_error>()},
      {"corio::multiprocessing::remote_traceback", msg_maker<remote_traceback>()},
      // Not std::exceptions: they keep their roots (a cancellation stays one).
      {"corio::cancelled_error", msg_maker<cancelled_error>()},
      {"corio::keyboard_interrupt", msg_maker<keyboard_interrupt>()},
      {"corio::system_exit", [](const exception_fields& f) { return std::make_exception_ptr(system_exit(f.err)); }},
  };
  return *table;
}

template <class E>
maker os_maker() {
  return [](const exception_fields& f) { return nested(E(f.err, os_context(f.message, f.err), f.filename), f.traceback); };
}

// The os_error family keeps its errno and filename.
const std::unordered_map<std::string, maker>& os_types() {
  static const auto* const table = new std::unordered_map<std::string, maker>{
      {"corio::os_error", os_maker<os_error>()},
      {"corio::connection_error", os_maker<connection_error>()},
      {"corio::connection_reset_error", os_maker<connection_reset_error>()},
      {"corio::connection_refused_error", os_maker<connection_refused_error>()},
      {"corio::connection_aborted_error", os_maker<connection_aborted_error>()},
      {"corio::broken_pipe_error", os_maker<broken_pipe_error>()},
      {"corio::file_not_found_error", os_maker<file_not_found_error>()},
      {"corio::permission_error", os_maker<permission_error>()},
      {"corio::is_a_directory_error", os_maker<is_a_directory_error>()},
      {"corio::not_a_directory_error", os_maker<not_a_directory_error>()},
      {"corio::child_process_error", os_maker<child_process_error>()},
      {"corio::process_lookup_error", os_maker<process_lookup_error>()},
      {"std::system_error",
       [](const exception_fields& f) {
         return nested(std::system_error(f.err, std::generic_category(), os_context(f.message, f.err)), f.traceback);
       }},
  };
  return *table;
}

std::exception_ptr rebuild(const exception_fields& f) {
  if (f.err != 0) {
    const auto& os = os_types();
    const auto it = os.find(f.type);
    if (it != os.end()) return it->second(f);
  }
  const auto& table = known_types();
  const auto it = table.find(f.type);
  if (it != table.end()) return it->second(f);
  return std::make_exception_ptr(remote_error(f.type, f.message, f.traceback));
}

}  // namespace

void codec<std::exception_ptr>::encode(packer& p, const std::exception_ptr& e) {
  if (!e) {
    p.pack_nil();
    return;
  }
  const exception_fields f = fields_of(e);
  p.pack_map(f.filename.empty() ? 4 : 5);
  codec<std::string_view>::encode(p, "type");
  codec<std::string>::encode(p, f.type);
  codec<std::string_view>::encode(p, "message");
  codec<std::string>::encode(p, f.message);
  codec<std::string_view>::encode(p, "traceback");
  codec<std::string>::encode(p, f.traceback);
  codec<std::string_view>::encode(p, "errno");
  codec<int>::encode(p, f.err);
  if (!f.filename.empty()) {
    codec<std::string_view>::encode(p, "filename");
    codec<std::string>::encode(p, f.filename);
  }
}

std::exception_ptr codec<std::exception_ptr>::decode(const object& o) {
  if (o.type == msgpack::type::NIL) return nullptr;
  if (o.type != msgpack::type::MAP) detail::mismatch<std::exception_ptr>(o);
  exception_fields f;
  bool have_type = false;
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    const std::string key = codec<std::string>::decode(kv.key);
    if (key == "type") {
      f.type = codec<std::string>::decode(kv.val);
      have_type = true;
    } else if (key == "message") {
      f.message = codec<std::string>::decode(kv.val);
    } else if (key == "traceback") {
      f.traceback = codec<std::string>::decode(kv.val);
    } else if (key == "errno") {
      f.err = codec<int>::decode(kv.val);
    } else if (key == "filename") {
      f.filename = codec<std::string>::decode(kv.val);
    }  // other keys: from a newer peer, ignored
  }
  if (!have_type || f.type.empty()) detail::mismatch<std::exception_ptr>(o, "no exception type");
  return rebuild(f);
}

}  // namespace corio::multiprocessing
