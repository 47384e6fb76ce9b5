// The state behind corio::stream_reader: the byte buffer, EOF and error,
// the one waiting reader, and flow control towards the transport that feeds
// it. A transport holds a reader_core directly; users hold stream_reader.
// Not for users.
//
// Python's StreamReader wakes its waiter on every feed_data and lets the
// coroutine check again. Here the waiting read's condition (a byte, n bytes,
// a separator) is checked when data arrives, and the task is woken only once
// it can finish, so an awaiter never needs to wait twice and each buffered
// byte is searched for a separator once. A woken reader stays registered
// until it runs, so the data it was woken for is still there when it does.
#pragma once

#include <corio/detail/sync_waiter.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <string_view>

namespace corio::detail {

/// Flow control a reader asks of the transport feeding it (Python: the
/// pause_reading / resume_reading of a ReadTransport). Called on the loop's
/// thread from inside the reader's methods: an implementation only records
/// the request (stops or restarts receiving) and must not call back into
/// the reader.
struct read_flow {
  virtual void pause_reading() noexcept = 0;
  virtual void resume_reading() noexcept = 0;

 protected:
  ~read_flow() = default;
};

// A suspended read: what it waits for, checked by the reader on each feed.
struct reader_waiter : sync_waiter {
  enum class want : std::uint8_t {
    some,     // read(n > 0), read_into: one byte
    all,      // read(-1): EOF
    exactly,  // readexactly(n): n bytes
    until,    // readuntil, readline: the separator, or the limit overrun
  };
  want kind = want::some;
  bool by_error = false;  // woken by set_exception
  std::size_t needed = 0; // exactly: bytes wanted
  std::string_view sep;   // until
  std::size_t scan = 0;   // until: where the next search starts (Python: offset)
  std::size_t found = std::string_view::npos;  // until: the separator's offset

  reader_waiter() noexcept = default;
  reader_waiter(const reader_waiter& o) noexcept
      : sync_waiter(), kind(o.kind), needed(o.needed), sep(o.sep), scan(o.scan), found(o.found) {}  // only before use
};

// What readuntil finds in the buffer (the steps of Python's readuntil loop).
enum class until_status : std::uint8_t {
  found,    // the separator is at `found` (maybe beyond the limit)
  overrun,  // no separator within limit + len(sep) bytes
  eof,      // no separator and the stream ended
  more,     // must wait for data
};

class reader_core {
 public:
  // std::invalid_argument if limit is 0 (ST-01).
  explicit reader_core(std::size_t limit);
  ~reader_core();
  reader_core(const reader_core&) = delete;
  reader_core& operator=(const reader_core&) = delete;

  // Intrusive count: the stream_reader handles, the transport, and a
  // suspended read each hold one. Loop-bound, so not atomic.
  void retain() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

  // -- producer side (Python: feed_data, feed_eof, set_exception, set_transport)
  // Appends n bytes (copied); wakes the reader once its read can finish;
  // pauses the transport above 2 * limit unless a read waits for more.
  // invalid_state_error after feed_eof (Python asserts).
  void feed_data(const char* p, std::size_t n);
  void feed_eof() noexcept;
  // Every later read throws `e`; a waiting read is woken with it (ST-12).
  // std::invalid_argument for a null pointer.
  void set_exception(std::exception_ptr e);
  // The transport to pause and resume; null detaches it.
  void set_transport(read_flow* t) noexcept {
    transport_ = t;
    paused_ = false;
  }

  // -- state
  std::size_t size() const noexcept { return end_ - begin_; }
  const char* data() const noexcept { return buf_ + begin_; }
  std::size_t limit() const noexcept { return limit_; }
  bool eof() const noexcept { return eof_; }
  bool at_eof() const noexcept { return eof_ && size() == 0; }  // ST-11
  const std::exception_ptr& exception() const noexcept { return exc_; }
  bool paused() const noexcept { return paused_; }
  // A read is suspended, or woken and not run yet (ST-13).
  bool waiting() const noexcept { return !waiters_.empty(); }
  // Heap bytes held for the buffer (0 while it fits the inline space).
  std::size_t heap_capacity() const noexcept { return buf_ == inline_ ? 0 : cap_; }
  static constexpr std::size_t inline_capacity = 168;

  // -- consumer side
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
      if (CORIO_UNLIKELY(buf_ != inline_)) release_heap();  // an idle reader holds no heap
    }
    if (CORIO_UNLIKELY(paused_) && size() <= limit_) resume_transport();
  }
  std::string take(std::size_t n) {
    std::string s(data(), n);
    consume(n);
    return s;
  }
  std::size_t copy_out(std::span<char> dst) noexcept {
    const std::size_t k = dst.size() < size() ? dst.size() : size();
    if (k != 0) {
      std::memcpy(dst.data(), data(), k);
      consume(k);
    }
    return k;
  }
  [[noreturn]] void rethrow() const;

  // -- waiting (the awaiters of stream_reader)
  // Suspends the current task on `w`; std::runtime_error if another read
  // waits already (ST-13). `method` names the caller in that message.
  void wait(reader_waiter* w, std::coroutine_handle<> h, const char* method);
  // First thing in await_resume after wait(): throws a due cancellation
  // (nothing consumed, ST-12) or the exception the read was woken with.
  void after_wait(reader_waiter* w);
  // The awaiter of a read that waited goes away (after await_resume, or
  // with its frame): unregisters it and lets go of its reference.
  void leave(reader_waiter* w) noexcept;

  // Python's readuntil loop on what is buffered; moves w.scan / w.found on.
  until_status until_check(reader_waiter& w) const noexcept;
  std::string finish_readuntil(const reader_waiter& w, until_status st);
  std::string finish_readline(const reader_waiter& w, until_status st);
  std::string finish_readexactly(std::size_t n);

 private:
  bool can_finish(reader_waiter* w) noexcept;
  void reserve(std::size_t n);
  void release_heap() noexcept;
  void resume_transport() noexcept;
  void settle_flow() noexcept;
  bool over_high() const noexcept { return size() > limit_ && size() - limit_ > limit_; }

  std::uint32_t refs_ = 1;
  std::uint32_t loop_ref_ = 0;
  bool eof_ = false;
  bool paused_ = false;
  char* buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t cap_;
  std::size_t limit_;
  read_flow* transport_ = nullptr;
  std::exception_ptr exc_;
  waiter_list waiters_;
  // Small reads (a request line, a 64-byte message) never touch the heap.
  char inline_[inline_capacity];
};
static_assert(sizeof(reader_core) == 256, "reader_core grew: memory per connection depends on it");

// What every stream_reader awaiter shares: the waiter node and its exit.
struct reader_awaiter_base : reader_waiter {
  reader_core* c;
  explicit reader_awaiter_base(reader_core* core) noexcept : c(core) {}
  reader_awaiter_base(const reader_awaiter_base& o) noexcept : reader_waiter(o), c(o.c) {}  // only before use
  reader_awaiter_base& operator=(const reader_awaiter_base&) = delete;
  ~reader_awaiter_base() {
    if (task) c->leave(this);
  }
};

}  // namespace corio::detail
