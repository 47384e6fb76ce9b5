#include <corio/stream_reader.hpp>

#include <bit>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

namespace corio::detail {

reader_core::reader_core(std::size_t limit) : buf_(inline_), cap_(inline_capacity), limit_(limit) {
  if (limit == 0) throw std::invalid_argument("Limit cannot be <= 0");  // ST-01
}

reader_core::~reader_core() {
  if (buf_ != inline_) ::operator delete(buf_);
}

// -- the buffer ---------------------------------------------------------------------
//
// One contiguous array read from begin_ and written at end_. Consuming moves
// begin_ (O(1)); the bytes are moved to the front only when that costs no
// more than the bytes consumed since the last move, so each byte is moved a
// bounded number of times. Drained, the buffer returns to the inline space.

void reader_core::reserve(std::size_t n) {
  if (CORIO_LIKELY(cap_ - end_ >= n)) return;
  const std::size_t len = size();
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max() / 4;
  if (n > kMax || len > kMax) throw std::bad_alloc();
  if (len + n <= cap_ && (len <= begin_ || buf_ == inline_)) {
    std::memmove(buf_, buf_ + begin_, len);
  } else {
    // Geometric growth: the copy is paid for by the bytes fed since the last.
    const std::size_t want = std::bit_ceil(len + n > 2 * cap_ ? len + n : 2 * cap_);
    char* fresh = static_cast<char*>(::operator new(want));
    if (len != 0) std::memcpy(fresh, buf_ + begin_, len);
    if (buf_ != inline_) ::operator delete(buf_);
    buf_ = fresh;
    cap_ = want;
  }
  begin_ = 0;
  end_ = len;
}

void reader_core::release_heap() noexcept {
  ::operator delete(buf_);
  buf_ = inline_;
  cap_ = inline_capacity;
}

// -- producer side --------------------------------------------------------------------

void reader_core::feed_data(const char* p, std::size_t n) {
  if (n == 0) return;  // Python: `if not data: return`
  if (CORIO_UNLIKELY(eof_)) throw invalid_state_error("feed_data after feed_eof");
  reserve(n);
  std::memcpy(buf_ + end_, p, n);
  end_ += n;
  bool wants_more = false;
  if (sync_waiter* w = waiters_.head; w && !w->woken) {
    if (can_finish(static_cast<reader_waiter*>(w)))
      waiter_list::wake(w);
    else
      wants_more = true;
  }
  // Python pauses above 2 * limit and lets a reader that still waits resume
  // at once (readexactly(n) with n beyond it would deadlock); not pausing
  // while a read waits for more does the same without the round trip.
  if (transport_ && !paused_ && !wants_more && over_high()) {
    paused_ = true;
    transport_->pause_reading();
  }
}

void reader_core::feed_eof() noexcept {
  eof_ = true;
  if (sync_waiter* w = waiters_.head; w && !w->woken) waiter_list::wake(w);
}

void reader_core::set_exception(std::exception_ptr e) {
  if (!e) throw std::invalid_argument("set_exception() needs an exception");
  exc_ = std::move(e);
  if (sync_waiter* w = waiters_.head; w && !w->woken) {
    static_cast<reader_waiter*>(w)->by_error = true;
    waiter_list::wake(w);
  }
}

void reader_core::rethrow() const {
  if (CORIO_UNLIKELY(!exc_)) throw invalid_state_error("corio: stream reader woken without a result");
  std::rethrow_exception(exc_);
}

void reader_core::resume_transport() noexcept {
  paused_ = false;
  if (transport_) transport_->resume_reading();
}

// A read that waited left: if it held the transport running beyond 2 * limit
// while it waited for more, pause it now that nobody does.
void reader_core::settle_flow() noexcept {
  if (transport_ && !paused_ && over_high() && !(waiters_.head && !waiters_.head->woken)) {
    paused_ = true;
    transport_->pause_reading();
  }
}

// -- waiting ---------------------------------------------------------------------------

bool reader_core::can_finish(reader_waiter* w) noexcept {
  switch (w->kind) {
    case reader_waiter::want::some:
      return size() != 0;
    case reader_waiter::want::all:
      return false;
    case reader_waiter::want::exactly:
      return size() >= w->needed;
    case reader_waiter::want::until:
      return until_check(*w) != until_status::more;
  }
  return true;
}

void reader_core::wait(reader_waiter* w, std::coroutine_handle<> h, const char* method) {
  if (!waiters_.empty())  // ST-13
    throw std::runtime_error(std::string(method) +
                             "() called while another coroutine is already waiting for incoming data");
  w->by_error = false;
  wait_on<wait_kind::stream_reader>(waiters_, w, h, loop_ref_, "StreamReader");
  retain();  // the suspended read keeps the reader alive
  // Python's _wait_for_data: waiting while paused would deadlock.
  if (paused_) resume_transport();
}

void reader_core::after_wait(reader_waiter* w) {
  waiters_.remove(w);
  // A cancel wins over the wake-up (as in Python, where the task's pending
  // cancel is thrown into `await self._waiter`); nothing was consumed.
  if (CORIO_UNLIKELY(w->cancel_due())) w->throw_cancel();
  if (CORIO_UNLIKELY(w->by_error)) rethrow();
}

void reader_core::leave(reader_waiter* w) noexcept {
  waiters_.remove(w);
  settle_flow();
  release();  // last: may destroy this
}

// -- the framing methods -------------------------------------------------------------

until_status reader_core::until_check(reader_waiter& w) const noexcept {
  if (w.found != std::string_view::npos) return until_status::found;
  const std::size_t len = size();
  const std::size_t seplen = w.sep.size();
  if (len - w.scan >= seplen) {
    const std::string_view buf(data(), len);
    const std::size_t at = seplen == 1 ? buf.find(w.sep[0], w.scan) : buf.find(w.sep, w.scan);
    if (at != std::string_view::npos) {
      w.found = at;
      return until_status::found;
    }
    // The separator may still start in the last seplen - 1 bytes.
    w.scan = len + 1 - seplen;
  }
  // Checked again when nothing new came since (a woken read resuming).
  if (w.scan > limit_) return until_status::overrun;
  return eof_ ? until_status::eof : until_status::more;
}

std::string reader_core::finish_readuntil(const reader_waiter& w, until_status st) {
  switch (st) {
    case until_status::found:
      if (w.found > limit_)  // ST-09: the data stays buffered
        throw limit_overrun_error("Separator is found, but chunk is longer than limit", w.found);
      return take(w.found + w.sep.size());
    case until_status::overrun:
      throw limit_overrun_error("Separator is not found, and chunk exceed the limit", w.scan);
    case until_status::eof:
      throw incomplete_read_error(take(size()), std::nullopt);  // ST-08
    case until_status::more:
      break;
  }
  rethrow();
}

std::string reader_core::finish_readline(const reader_waiter& w, until_status st) {
  // Python's readline: readuntil, with its errors turned into a partial line
  // (EOF) or a ValueError that drops the long line (ST-05, ST-06).
  switch (st) {
    case until_status::found:
      if (w.found <= limit_) return take(w.found + 1);
      consume(w.found + 1);
      throw std::invalid_argument("Separator is found, but chunk is longer than limit");
    case until_status::overrun:
      consume(size());
      throw std::invalid_argument("Separator is not found, and chunk exceed the limit");
    case until_status::eof:
      return take(size());
    case until_status::more:
      break;
  }
  rethrow();
}

std::string reader_core::finish_readexactly(std::size_t n) {
  if (eof_) throw incomplete_read_error(take(size()), n);  // ST-10
  rethrow();
}

}  // namespace corio::detail
