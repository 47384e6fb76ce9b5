// Python: asyncio.StreamReader (asyncio/streams.py): a byte buffer fed by a
// transport, read with framing methods (read, readline, readuntil,
// readexactly) and, as a C++ addition, read_into a caller's buffer.
//
// Every read is an awaitable that completes without suspending when what is
// buffered is enough (no allocation beyond the returned string; none for
// read_into). One read may wait at a time (ST-13). A read cancelled while it
// waits consumes nothing: the stream stays usable and no byte is lost
// (ST-12). Used from its loop's thread only, like every asyncio object.
#pragma once

#include <corio/detail/owned_bytes.hpp>
#include <corio/detail/reader_core.hpp>
#include <corio/detail/user_counted.hpp>
#include <corio/exceptions.hpp>
#include <corio/tasks.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace corio {

namespace detail {

// read(n): n > 0 up to n bytes once one is there; n < 0 everything up to EOF.
struct read_awaiter : reader_awaiter_base {
  std::ptrdiff_t count;
  read_awaiter(reader_core* core, std::ptrdiff_t max) noexcept : reader_awaiter_base(core), count(max) {
    kind = count < 0 ? want::all : want::some;
  }
  bool await_ready() const noexcept {
    if (c->exception() || count == 0) return true;
    if (c->waiting()) return false;
    return c->eof() || (count > 0 && c->size() != 0);
  }
  void await_suspend(std::coroutine_handle<> h) { c->wait(this, h, "read"); }
  std::string await_resume() {
    if (CORIO_UNLIKELY(task != nullptr))
      c->after_wait(this);
    else if (CORIO_UNLIKELY(c->exception() != nullptr))
      c->rethrow();
    if (count < 0) return c->take(c->size());  // ST-04
    const auto most = static_cast<std::size_t>(count);
    return c->take(most < c->size() ? most : c->size());  // ST-02, ST-03
  }
};

// read_into(buf): like read(buf.size()), into the caller's memory.
struct read_into_awaiter : reader_awaiter_base {
  std::span<char> buf;
  read_into_awaiter(reader_core* core, std::span<char> b) noexcept : reader_awaiter_base(core), buf(b) {}
  bool await_ready() const noexcept {
    if (c->exception() || buf.empty()) return true;
    if (c->waiting()) return false;
    return c->size() != 0 || c->eof();
  }
  void await_suspend(std::coroutine_handle<> h) { c->wait(this, h, "read_into"); }
  std::size_t await_resume() {
    if (CORIO_UNLIKELY(task != nullptr))
      c->after_wait(this);
    else if (CORIO_UNLIKELY(c->exception() != nullptr))
      c->rethrow();
    return c->copy_out(buf);
  }
};

// readexactly(n).
struct readexactly_awaiter : reader_awaiter_base {
  readexactly_awaiter(reader_core* core, std::size_t count) noexcept : reader_awaiter_base(core) {
    kind = want::exactly;
    needed = count;
  }
  bool await_ready() const noexcept {
    if (c->exception() || needed == 0) return true;
    if (c->waiting()) return false;
    return c->size() >= needed || c->eof();
  }
  void await_suspend(std::coroutine_handle<> h) { c->wait(this, h, "readexactly"); }
  std::string await_resume() {
    if (CORIO_UNLIKELY(task != nullptr))
      c->after_wait(this);
    else if (CORIO_UNLIKELY(c->exception() != nullptr))
      c->rethrow();
    if (needed == 0) return {};                                     // ST-10
    if (CORIO_LIKELY(c->size() >= needed)) return c->take(needed);  // surplus stays buffered
    return c->finish_readexactly(needed);
  }
};

// readuntil(sep) and readline() (Line: the ValueError flavour of ST-06).
template <bool Line>
struct until_awaiter : reader_awaiter_base {
  until_status st = until_status::more;
  until_awaiter(reader_core* core, std::string_view separator) noexcept : reader_awaiter_base(core) {
    kind = want::until;
    sep = separator;
  }
  bool await_ready() noexcept {
    if (c->exception()) return true;
    if (c->waiting()) return false;
    st = c->until_check(*this);
    return st != until_status::more;
  }
  void await_suspend(std::coroutine_handle<> h) { c->wait(this, h, Line ? "readline" : "readuntil"); }
  std::string await_resume() {
    if (CORIO_UNLIKELY(task != nullptr)) {
      c->after_wait(this);
      st = c->until_check(*this);
    } else if (CORIO_UNLIKELY(c->exception() != nullptr)) {
      c->rethrow();
    }
    if constexpr (Line) {
      return c->finish_readline(*this, st);
    } else {
      return c->finish_readuntil(*this, st);
    }
  }
};

// What a read method returns: co_await builds the awaiter in the frame. It
// holds the reader, so one scheduled after every handle has gone (through
// wait_for, say) still reads what was buffered.
template <class Awaiter, class Arg>
struct reader_op {
  core_hold<reader_core> c;
  Arg arg;
  using corio_awaitable = void;
  Awaiter operator co_await() const noexcept { return Awaiter(c.get(), arg); }
};

}  // namespace detail

/// Python: asyncio.StreamReader. A cheap handle: copies share one reader, so
/// the transport that feeds it and the task that reads it can both hold it.
/// Loop-bound and not thread-safe, like every asyncio object.
///
/// Each read method returns an awaitable; `co_await` it inside a corio task
/// on the loop that uses the reader. Common to all of them:
///  - Completes without suspending when the buffer (or EOF) settles it.
///  - Cancellation while suspended: cancelled_error, nothing consumed (ST-12).
///  - Resumes the caller on the loop's thread, from the ready queue.
///  - Throws the exception given to set_exception, if any (ST-12), and
///    std::runtime_error if another read is already waiting (ST-13).
class stream_reader {
 public:
  /// Python: asyncio.streams._DEFAULT_LIMIT (64 KiB).
  static constexpr std::size_t default_limit = 64 * 1024;

  /// Python: StreamReader(limit=2**16). `limit` bounds what readline and
  /// readuntil buffer while they search, not read(n) or readexactly(n)
  /// (ST-01). std::invalid_argument if it is 0 (or negative).
  stream_reader() : stream_reader(default_limit) {}
  explicit stream_reader(std::size_t limit) : c_(new detail::reader_core(limit)) {}
  template <std::signed_integral I>
  explicit stream_reader(I limit) : stream_reader(checked_limit(limit)) {}

  stream_reader(const stream_reader& o) noexcept : c_(o.c_) { c_->retain(); }
  stream_reader(stream_reader&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  stream_reader& operator=(stream_reader o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~stream_reader() {
    if (c_) c_->release();
  }

  // -- the producer's side ------------------------------------------------------

  /// Python: StreamReader.feed_data(data). Copies the bytes in and wakes a
  /// read they complete. invalid_state_error after feed_eof().
  void feed_data(std::string_view data) { c_->feed_data(data.data(), data.size()); }
  /// Python: StreamReader.feed_eof(). Wakes a waiting read.
  void feed_eof() noexcept { c_->feed_eof(); }
  /// Python: StreamReader.set_exception(exc). Every later read throws `e`,
  /// and a waiting read is woken with it (ST-12).
  void set_exception(std::exception_ptr e) { c_->set_exception(std::move(e)); }

  // -- state ----------------------------------------------------------------------

  /// Python: StreamReader.exception(): what set_exception gave, or null.
  std::exception_ptr exception() const noexcept { return c_->exception(); }
  /// Python: StreamReader.at_eof(): EOF was fed and the buffer is empty (ST-11).
  bool at_eof() const noexcept { return c_->at_eof(); }
  /// The limit given at construction (Python: the private _limit).
  std::size_t limit() const noexcept { return c_->limit(); }
  /// Bytes buffered and not read yet (Python: len(reader._buffer)).
  std::size_t buffered() const noexcept { return c_->size(); }
  /// The shared state, for the transport that feeds this reader.
  detail::reader_core& core() const noexcept { return *c_; }

  // -- reading --------------------------------------------------------------------

  /// Python: `await reader.read(n=-1)`. n > 0: waits for at least one byte
  /// (or EOF) and returns at most n, without waiting to fill n (ST-03);
  /// "" at EOF. n == 0: "" at once (ST-02). n < 0: everything up to EOF
  /// (ST-04).
  detail::reader_op<detail::read_awaiter, std::ptrdiff_t> read(std::ptrdiff_t n = -1) const noexcept {
    return {detail::core_hold(c_), n};
  }

  /// `co_await reader.read_into(buf)`: read(buf.size()) into `buf`, without
  /// allocating. Waits for at least one byte (or EOF), copies at most
  /// buf.size() bytes and returns how many; 0 at EOF (or for an empty buf).
  /// `buf` must stay valid until the await completes.
  detail::reader_op<detail::read_into_awaiter, std::span<char>> read_into(std::span<char> buf) const noexcept {
    return {detail::core_hold(c_), buf};
  }

  /// Python: `await reader.readline()`: a line with its "\n", accumulated
  /// across chunks; at EOF the partial line, maybe "" (ST-05). A line longer
  /// than the limit throws std::invalid_argument (Python: ValueError) after
  /// consuming through its "\n", or discarding the whole buffer if no "\n"
  /// came within the limit (ST-06).
  detail::reader_op<detail::until_awaiter<true>, std::string_view> readline() const noexcept {
    return {detail::core_hold(c_), "\n"};
  }

  /// Python: `await reader.readuntil(separator=b"\n")`: the data up to and
  /// including the separator, which may span chunks (ST-07). Throws
  /// incomplete_read_error with everything buffered at EOF (the buffer is
  /// emptied, ST-08), limit_overrun_error beyond the limit with the data
  /// left buffered (ST-09), std::invalid_argument for an empty separator.
  /// `separator` must stay valid until the await completes (a literal, or a
  /// string that outlives it), unless it is a std::string rvalue, which the
  /// returned awaitable owns.
  detail::reader_op<detail::until_awaiter<false>, std::string_view> readuntil(std::string_view separator = "\n") const {
    if (separator.empty()) throw std::invalid_argument("Separator should be at least one-byte string");
    return {detail::core_hold(c_), separator};
  }
  template <class S>
    requires detail::string_rvalue<S>
  detail::reader_op<detail::until_awaiter<false>, std::string> readuntil(S&& separator) const {
    if (separator.empty()) throw std::invalid_argument("Separator should be at least one-byte string");
    return {detail::core_hold(c_), std::string(std::move(separator))};
  }

  /// Python: `await reader.readexactly(n)`: exactly n bytes; "" for 0; the
  /// surplus stays buffered. At EOF before n bytes: incomplete_read_error
  /// with what was buffered, which is consumed (ST-10). A negative signed n
  /// throws std::invalid_argument.
  detail::reader_op<detail::readexactly_awaiter, std::size_t> readexactly(std::size_t n) const noexcept {
    return {detail::core_hold(c_), n};
  }
  template <std::signed_integral I>
  detail::reader_op<detail::readexactly_awaiter, std::size_t> readexactly(I n) const {
    if (n < 0) throw std::invalid_argument("readexactly size can not be less than zero");
    return {detail::core_hold(c_), static_cast<std::size_t>(n)};
  }

 private:
  template <class I>
  static std::size_t checked_limit(I limit) {
    if (limit <= 0) throw std::invalid_argument("Limit cannot be <= 0");
    return static_cast<std::size_t>(limit);
  }

  detail::reader_core* c_;
};

}  // namespace corio
