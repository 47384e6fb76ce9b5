// corio's exception hierarchy (Python: asyncio.exceptions and the builtin
// BaseException / Exception split).
//
// Ordinary errors derive from std::exception, as C++ code expects. The few
// that must not be swallowed by `catch (const std::exception&)` derive only
// from corio::base_exception, as Python's CancelledError, KeyboardInterrupt
// and SystemExit derive only from BaseException (docs/semantics.md CX-17).
#pragma once

#include <cstddef>
#include <exception>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace corio {

/// Python: BaseException. Root of the exceptions that `catch (const
/// std::exception&)` must not catch.
class base_exception {
 public:
  explicit base_exception(std::string msg = {}) : msg_(std::move(msg)) {}
  virtual ~base_exception() = default;
  virtual const char* what() const noexcept { return msg_.c_str(); }

 private:
  std::string msg_;
};

/// Python: asyncio.CancelledError. Thrown into a task at its suspension point
/// by `task.cancel(msg)`; what() is the cancel message ("" without one).
class cancelled_error : public base_exception {
 public:
  using base_exception::base_exception;
};

/// Python: KeyboardInterrupt. Escapes the event loop instead of being stored
/// (docs/semantics.md EL-12, TK-15).
class keyboard_interrupt : public base_exception {
 public:
  keyboard_interrupt() : base_exception("keyboard interrupt") {}
  using base_exception::base_exception;
};

/// Python: SystemExit. Escapes the event loop like keyboard_interrupt.
class system_exit : public base_exception {
 public:
  explicit system_exit(int code = 0)
      : base_exception("system exit " + std::to_string(code)), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Python: GeneratorExit. Raised inside a generator at its `co_yield` by
/// close() and aclose(), so that its cleanup runs. Like cancelled_error it is
/// not a std::exception: `catch (const std::exception&)` in a generator body
/// does not swallow it.
class generator_exit : public base_exception {
 public:
  generator_exit() : base_exception("generator exit") {}
};

/// Python: the TypeError "can't send non-None value to a just-started
/// generator". A generator must be started with next() before send(value).
class generator_not_started : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Python: ValueError "generator already executing" (and, for async
/// generators, RuntimeError "asynchronous generator is already running"): the
/// generator was driven again while it runs, from inside its own body or
/// while an earlier next() of an async generator is still waiting.
class generator_running : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Python: asyncio.InvalidStateError (e.g. result() of a pending future).
class invalid_state_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Python: TimeoutError (asyncio.TimeoutError is an alias since 3.11).
class timeout_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  timeout_error() : std::runtime_error("timed out") {}
};

/// Python: asyncio.BrokenBarrierError and threading.BrokenBarrierError
/// (one class for both here).
class broken_barrier_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Python: asyncio.QueueEmpty and queue.Empty (get_nowait on an empty queue).
class queue_empty : public std::runtime_error {
 public:
  queue_empty() : std::runtime_error("queue is empty") {}
};
/// Python: asyncio.QueueFull and queue.Full (put_nowait on a full queue).
class queue_full : public std::runtime_error {
 public:
  queue_full() : std::runtime_error("queue is full") {}
};
/// Python: asyncio.QueueShutDown and queue.ShutDown (3.13).
class queue_shut_down : public std::runtime_error {
 public:
  queue_shut_down() : std::runtime_error("queue is shut down") {}
};

/// Python: asyncio.IncompleteReadError: the stream ended before a read got
/// what it needed (readexactly, readuntil; docs/semantics.md ST-08, ST-10).
/// Python derives it from EOFError; corio has no eof_error, so it is a
/// std::runtime_error (a condition of the data, not a bug of the caller).
class incomplete_read_error : public std::runtime_error {
 public:
  /// what(): "<k> bytes read on a total of <n> expected bytes" (or "undefined").
  incomplete_read_error(std::string partial, std::optional<std::size_t> expected);
  /// Python: .partial, the bytes read before the end of the stream.
  const std::string& partial() const noexcept { return partial_; }
  /// Python: .expected (None: readuntil, which expects no fixed count).
  std::optional<std::size_t> expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};

/// Python: asyncio.LimitOverrunError: readuntil found no separator within the
/// reader's limit, or found it too far; the data stays buffered (ST-09).
class limit_overrun_error : public std::runtime_error {
 public:
  limit_overrun_error(const std::string& msg, std::size_t consumed) : std::runtime_error(msg), consumed_(consumed) {}
  /// Python: .consumed, how many bytes to consume to get past the overrun.
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

/// Python: BaseExceptionGroup. Carries several exceptions at once; used when
/// at least one member is not a std::exception (a cancellation, say).
class base_exception_group : public base_exception {
 public:
  base_exception_group(std::string msg, std::vector<std::exception_ptr> exceptions);

  /// The member exceptions, in the order they happened.
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return excs_; }
  const char* what() const noexcept override { return full_.c_str(); }
  /// The message given at construction, without the member summary.
  const std::string& message() const noexcept { return msg_; }

  /// Members (searched recursively through nested groups) whose type is E.
  template <class E>
  std::vector<std::exception_ptr> matching() const {
    std::vector<std::exception_ptr> out;
    collect<E>(excs_, out);
    return out;
  }
  /// True if some member (recursively) is an E.
  template <class E>
  bool contains() const {
    return !matching<E>().empty();
  }

 private:
  template <class E>
  static void collect(const std::vector<std::exception_ptr>& in, std::vector<std::exception_ptr>& out) {
    for (const auto& p : in) {
      if constexpr (std::is_base_of_v<base_exception_group, E>) {
        // Looking for groups: a matching group is a result, not a container.
        try {
          std::rethrow_exception(p);
        } catch (const E&) {
          out.push_back(p);
        } catch (...) {
        }
      } else {
        try {
          std::rethrow_exception(p);
        } catch (const E&) {
          out.push_back(p);
        } catch (const base_exception_group& g) {
          collect<E>(g.exceptions(), out);
        } catch (...) {
        }
      }
    }
  }

  std::string msg_;
  std::string full_;
  std::vector<std::exception_ptr> excs_;
};

/// Python: ExceptionGroup. A group whose members are all std::exceptions, so
/// `catch (const std::exception&)` catches it, as `except Exception` does.
class exception_group : public base_exception_group, public std::exception {
 public:
  using base_exception_group::base_exception_group;
  const char* what() const noexcept override { return base_exception_group::what(); }
};

/// Python: repr(exc): the dynamic type and the message,
/// `corio::cancelled_error('shutting down')` (`corio::cancelled_error()`
/// without one); a group lists its members,
/// `corio::exception_group('2 failed', [std::runtime_error('a'), ...])`.
std::ostream& operator<<(std::ostream& os, const base_exception& e);
std::ostream& operator<<(std::ostream& os, const exception_group& e);

/// Builds exception_group if every member is a std::exception, else
/// base_exception_group (Python's BaseExceptionGroup.__new__ rule), and throws it.
[[noreturn]] void throw_exception_group(std::string msg, std::vector<std::exception_ptr> excs);

/// True for keyboard_interrupt and system_exit: the exceptions that leave an
/// event loop instead of being stored (Python: KeyboardInterrupt, SystemExit).
bool is_exit_request(const std::exception_ptr& e) noexcept;

/// True if `e` is a std::exception (Python: isinstance(e, Exception)).
bool is_std_exception(const std::exception_ptr& e) noexcept;
/// True if `e` holds a corio::cancelled_error.
bool is_cancelled_error(const std::exception_ptr& e) noexcept;
/// One line describing `e`: its type and what() ("std::runtime_error: boom"),
/// the type alone when what() is empty.
std::string describe_exception(const std::exception_ptr& e);

namespace detail {

// True if `e` holds an E. It rethrows `e`: for paths where an exception is
// already being handled, not for hot ones.
template <class E>
bool exception_is(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace detail
}  // namespace corio
