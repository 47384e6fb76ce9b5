// Python: generators (PEP 255), their send/throw/close methods (PEP 342) and
// delegation with `yield from` (PEP 380).
//
//   def grep(pattern):               corio::generator<void, std::string_view> grep(std::string pattern) {
//       while True:                    for (;;) {
//           line = (yield)               std::string_view* line = co_yield {};
//           if pattern in line:          if (line && line->find(pattern) != std::string_view::npos)
//               print(line)                std::cout << *line << '\n';
//                                      }
//                                    }
//
// A generator runs inside the next()/send() call that resumes it, on the
// caller's thread; it needs no event loop (async_generator.hpp is the kind
// that awaits).
//
// Delegation: the outermost generator (the root) keeps a pointer to the
// innermost generator it delegates to (the leaf), as std::generator and
// cppcoro's recursive_generator do. next() and send() resume the leaf
// directly and the leaf hands its value to the root, so an element costs the
// same at any depth. Entering and leaving a delegation returns to the root's
// resume loop instead of resuming frame from frame, so no depth of nesting
// grows the machine stack, whatever the compiler does with symmetric transfer.
#pragma once

#include <corio/detail/config.hpp>
#include <corio/detail/frame_pool.hpp>
#include <corio/exceptions.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iosfwd>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio {

/// Python: inspect.getgeneratorstate() (GEN_CREATED, GEN_RUNNING,
/// GEN_SUSPENDED, GEN_CLOSED) and inspect.getasyncgenstate().
enum class generator_state : std::uint8_t { created, running, suspended, closed };

template <class Yield, class Send = void, class Return = void>
class generator;

namespace detail {

// Cold paths, out of line (generator.cpp). `msg` names the call that failed.
[[noreturn]] void throw_generator_running(const char* msg);
[[noreturn]] void throw_generator_not_started();
[[noreturn]] void throw_generator_ignored_exit(const char* kind);
[[noreturn]] void throw_no_return_value(generator_state s);
std::exception_ptr generator_exit_ptr();
// Python: repr(gen), `<generator object fib(int) at 0x... [GEN_SUSPENDED]>`;
// `kind` is "generator" or "async_generator" (generator.cpp).
void write_generator(std::ostream& os, const char* kind, std::coroutine_handle<> frame, generator_state s);

template <class>
inline constexpr bool always_false = false;

// What every generator frame of a delegation chain holds. The fields marked
// "root" are used in the outermost generator only (a frame is its own root
// until it is delegated to).
template <class Y, class S>
struct gen_promise_base {
  gen_promise_base* root_ = this;
  gen_promise_base* parent_ = nullptr;          // the generator delegating to this one
  std::coroutine_handle<> self_;                // this frame
  std::coroutine_handle<>* owner_ = nullptr;    // where the parent's frame keeps this one
  std::coroutine_handle<> leaf_;                // root: what next()/send() resume
  gen_promise_base* leaf_p_ = this;             // root: its promise
  std::add_pointer_t<Y> value_ = nullptr;       // root: what the leaf yielded last
  std::add_pointer_t<S> sent_ = nullptr;        // root: what send() passes (null: next())
  std::exception_ptr throw_;                    // root: to raise at the leaf's co_yield
  std::exception_ptr error_;                    // what escaped this frame's body
  generator_state state_ = generator_state::created;  // root: the generator's state
  bool closing_ = false;                        // root: close() is delivering generator_exit
};

// The awaiter of `co_yield v`: its value points to what send() passed, null
// after next() (Python: `x = yield v` gives None after next()). A pointer,
// not a copy: Python binds the name to the object sent, and a copy of a
// value the caller has just built in registers costs a store-forwarding
// stall (about 10 ns for a std::string_view, W10).
template <class Y, class S>
struct gen_yield_awaiter {
  gen_promise_base<Y, S>* self;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept { self->root_->state_ = generator_state::suspended; }
  auto await_resume() const {
    // The root is read again: a suspended generator can be moved into a
    // yield_from and get a new root while it waits here.
    gen_promise_base<Y, S>* r = self->root_;
    if (CORIO_UNLIKELY(r->throw_ != nullptr)) std::rethrow_exception(std::exchange(r->throw_, nullptr));
    if constexpr (!std::is_void_v<S>) return r->sent_;
  }
};

// `co_yield lvalue` yields a copy kept in the frame, so the consumer can
// move from it without touching the body's variable.
template <class Y, class S>
struct gen_copy_awaiter : gen_yield_awaiter<Y, S> {
  Y copy;
  void await_suspend(std::coroutine_handle<>) noexcept {
    this->self->root_->value_ = std::addressof(copy);
    this->self->root_->state_ = generator_state::suspended;
  }
};

template <class Y, class S>
struct gen_yielder : gen_promise_base<Y, S> {
  gen_yield_awaiter<Y, S> yield_value(Y&& v) noexcept {
    this->root_->value_ = std::addressof(v);
    return {this};
  }
  gen_copy_awaiter<Y, S> yield_value(const Y& v) noexcept(std::is_nothrow_copy_constructible_v<Y>) {
    return {{this}, v};
  }
};
// A generator that yields nothing (Python's bare `yield`): `co_yield {}`.
template <class S>
struct gen_yielder<void, S> : gen_promise_base<void, S> {
  struct nothing {};
  gen_yield_awaiter<void, S> yield_value(nothing) noexcept { return {this}; }
};

template <class R>
struct gen_return {
  std::optional<R> ret_;
  template <class U = R>
  void return_value(U&& v) {
    ret_.emplace(std::forward<U>(v));
  }
};
template <>
struct gen_return<void> {
  void return_void() noexcept {}
};

// A finished frame hands control back to its parent through the root's
// resume loop (see generator::run).
struct gen_final_awaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) const noexcept {
    auto& p = h.promise();
    p.state_ = generator_state::closed;  // for the root, this ends the resume loop
    if (p.parent_ != nullptr) {
      p.root_->leaf_ = p.parent_->self_;
      p.root_->leaf_p_ = p.parent_;
    }
  }
  void await_resume() const noexcept {}
};

template <class Y, class S, class R>
struct gen_promise;

template <class Y, class S, class R>
struct gen_delegation {
  generator<Y, S, R>* gen;
};

// The awaiter of `co_yield yield_from(sub)`: owns the sub-generator's frame
// for as long as the delegation lasts; its value is the sub's return value.
template <class Y, class S, class R>
struct gen_delegate_awaiter {
  using base = gen_promise_base<Y, S>;
  std::coroutine_handle<> frame;  // owned
  gen_promise<Y, S, R>* sub;
  base* self;
  bool delegated = false;

  gen_delegate_awaiter(std::coroutine_handle<gen_promise<Y, S, R>> h, base* s) noexcept
      : frame(h), sub(&h.promise()), self(s) {}
  gen_delegate_awaiter(gen_delegate_awaiter&& o) noexcept
      : frame(std::exchange(o.frame, nullptr)), sub(o.sub), self(o.self), delegated(o.delegated) {}
  gen_delegate_awaiter& operator=(gen_delegate_awaiter&&) = delete;
  ~gen_delegate_awaiter() {
    if (frame) frame.destroy();
  }

  bool await_ready() const noexcept { return sub->state_ == generator_state::closed; }
  void await_suspend(std::coroutine_handle<>) noexcept {
    base* r = self->root_;
    // A generator suspended inside a delegation of its own brings its chain.
    base* leaf = sub->leaf_p_;
    for (base* q = leaf; q != sub; q = q->parent_) q->root_ = r;
    sub->root_ = r;
    sub->parent_ = self;
    sub->owner_ = &frame;
    r->leaf_ = leaf->self_;
    r->leaf_p_ = leaf;
    r->sent_ = nullptr;  // Python's `yield from` starts with next(sub)
    delegated = true;
  }
  R await_resume() {
    if (sub->error_) std::rethrow_exception(std::exchange(sub->error_, nullptr));
    // PEP 380: closing the delegator closes the sub-generator, then raises
    // GeneratorExit in the delegator even if the sub-generator returned.
    if (delegated && self->root_->closing_) throw generator_exit();
    if constexpr (!std::is_void_v<R>) {
      if (!sub->ret_) throw_no_return_value(sub->state_);
      return std::move(*sub->ret_);
    }
  }
};

template <class Y, class S, class R>
struct gen_promise final : gen_yielder<Y, S>, gen_return<R> {
  using gen_yielder<Y, S>::yield_value;

  gen_promise() noexcept {
    this->self_ = std::coroutine_handle<gen_promise>::from_promise(*this);
    this->leaf_ = this->self_;
  }

  static void* operator new(std::size_t n) { return pool_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { pool_deallocate(p, n); }

  generator<Y, S, R> get_return_object() noexcept;
  // Lazy: calling a generator function runs nothing, as in Python.
  std::suspend_always initial_suspend() const noexcept { return {}; }
  gen_final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { this->error_ = std::current_exception(); }

  template <class R2>
  gen_delegate_awaiter<Y, S, R2> yield_value(gen_delegation<Y, S, R2> d);

  template <class A>
  A&& await_transform(A&& a) const noexcept {
    static_assert(always_false<A>,
                  "corio: a corio::generator cannot co_await (Python: `await` needs an `async def`); "
                  "use corio::async_generator from <corio/async_generator.hpp>");
    return std::forward<A>(a);
  }
};

}  // namespace detail

/// Python: a generator function and the generator object it returns.
///
/// `Yield` is what `co_yield` produces (void: a bare `yield`, written
/// `co_yield {}`), `Send` what send() passes in (void: next() only), `Return`
/// what `co_return` gives back (Python's StopIteration.value). Inside the
/// body, `co_yield v` evaluates to a `Send*`: it points to the value passed
/// to send(), or is null after next(), as `x = yield v` gives None in
/// Python. The pointee is send()'s own argument: the body may move from it,
/// and it lives until the body's next `co_yield` (copy it to keep it).
///
/// Calling the function creates the frame and runs nothing. next(), send()
/// and throw_() run the body on the calling thread up to its next `co_yield`
/// and return the yielded value, or an empty optional once the body has
/// finished (Python raises StopIteration there); an exception escaping the
/// body propagates to that caller and finishes the generator. Destroying a
/// generator destroys its frame: destructors of its locals run, but unlike
/// Python's finaliser no generator_exit is raised inside it, and nothing
/// is thrown; call close() for that. Not thread-safe: one caller at a time.
template <class Yield, class Send, class Return>
class [[nodiscard]] generator {
  static_assert(std::is_void_v<Yield> || std::is_same_v<Yield, std::remove_cvref_t<Yield>>,
                "corio::generator<Yield, ...>: Yield must be void or an object type (no reference, no const)");
  static_assert(std::is_void_v<Send> || std::is_same_v<Send, std::remove_cvref_t<Send>>,
                "corio::generator<Yield, Send, ...>: Send must be void or an object type (no reference, no const)");
  static_assert(std::is_void_v<Return> || std::is_same_v<Return, std::remove_cvref_t<Return>>,
                "corio::generator<Yield, Send, Return>: Return must be void or an object type");

  using base = detail::gen_promise_base<Yield, Send>;
  template <class, class, class>
  friend struct detail::gen_promise;

 public:
  using promise_type = detail::gen_promise<Yield, Send, Return>;
  using yield_type = Yield;
  using send_type = Send;
  using return_type = Return;
  /// What next(), send() and throw_() return: the value yielded, or empty
  /// when the generator has finished (Python: StopIteration). A generator
  /// yielding void returns true for a yield, false at the end.
  using next_result = std::conditional_t<std::is_void_v<Yield>, bool, std::optional<Yield>>;

  generator() noexcept = default;
  generator(generator&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  generator& operator=(generator o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~generator() {
    if (h_) destroy();
  }

  /// Python: next(gen) / gen.send(None). Starts the generator or resumes it
  /// at its `co_yield` (which gives a null pointer). Throws
  /// generator_running when called from inside the running generator.
  next_result next() { return resume_with(nullptr) ? take() : next_result(); }

  /// Python: gen.send(value): resumes the generator at its `co_yield`, which
  /// evaluates to a pointer to `value`. Throws generator_not_started before
  /// the first next() (Python: TypeError), generator_running while it runs.
  next_result send(std::conditional_t<std::is_void_v<Send>, int, Send> value)
    requires(!std::is_void_v<Send>)
  {
    return resume_with(std::addressof(value)) ? take() : next_result();
  }

  /// Python: gen.throw(exc): raises `e` inside the generator at its
  /// `co_yield`; returns what it yields next, or empty if it returns. If the
  /// generator lets `e` escape, it is rethrown here. On a generator not
  /// started yet, `e` is thrown here without running the body and the
  /// generator is closed; on a finished generator `e` is thrown here.
  next_result throw_(std::exception_ptr e) {
    if (!e) throw std::invalid_argument("corio: generator::throw_: the exception_ptr is null");
    if (!h_) std::rethrow_exception(e);
    base& r = root();
    switch (r.state_) {
      case generator_state::running:
        detail::throw_generator_running("corio: generator::throw_: generator already executing");
      case generator_state::created:
        r.state_ = generator_state::closed;
        std::rethrow_exception(e);
      case generator_state::closed:
        std::rethrow_exception(e);
      case generator_state::suspended:
        break;
    }
    r.throw_ = std::move(e);
    return finish(r, run(r)) ? take() : next_result();
  }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  next_result throw_(E&& e) {
    return throw_(std::make_exception_ptr(std::forward<E>(e)));
  }

  /// Python: gen.close(): raises generator_exit inside the generator at its
  /// `co_yield`, so its catch handlers and destructors run. Returns when the
  /// generator finishes (by generator_exit or by returning, whose value is
  /// then return_value()); rethrows any other exception it raises; throws
  /// std::runtime_error "generator ignored GeneratorExit" if it yields
  /// instead (it stays suspended, as in Python). No-op on a generator not
  /// started (which is then closed) or finished.
  void close() {
    if (!h_) return;
    base& r = root();
    switch (r.state_) {
      case generator_state::running:
        detail::throw_generator_running("corio: generator::close: generator already executing");
      case generator_state::created:
        r.state_ = generator_state::closed;
        return;
      case generator_state::closed:
        return;
      case generator_state::suspended:
        break;
    }
    r.throw_ = detail::generator_exit_ptr();
    r.closing_ = true;
    const bool yielded = run(r);
    r.closing_ = false;
    if (yielded) detail::throw_generator_ignored_exit("generator");
    if (r.error_) {
      std::exception_ptr e = std::exchange(r.error_, nullptr);
      if (!detail::exception_is<generator_exit>(e)) std::rethrow_exception(e);
    }
  }

  /// Python: inspect.getgeneratorstate(gen). An empty (moved-from)
  /// generator is closed.
  generator_state state() const noexcept { return h_ ? h_.promise().state_ : generator_state::closed; }

  /// Python: repr(gen) with inspect.getgeneratorstate(gen):
  /// `<generator object fib(int) at 0x... [GEN_SUSPENDED]>` (GEN_CREATED,
  /// GEN_RUNNING, GEN_CLOSED); `<generator (empty)>` when moved from.
  friend std::ostream& operator<<(std::ostream& os, const generator& g) {
    detail::write_generator(os, "generator", g.h_, g.state());
    return os;
  }

  /// Python: StopIteration.value: what the body returned with `co_return v`.
  /// Throws invalid_state_error unless the generator has finished by
  /// returning (it is not finished, raised, or was closed).
  std::add_lvalue_reference_t<Return> return_value()
    requires(!std::is_void_v<Return>)
  {
    if (!h_ || !h_.promise().ret_) detail::throw_no_return_value(state());
    return *h_.promise().ret_;
  }

  /// Python: `for x in gen`. begin() runs the generator to its first yield
  /// (or, once started, to its next one: like a second `for` loop over the
  /// same generator, it goes on where the last one stopped). The iterator
  /// gives a reference to the yielded value, kept in the generator's frame.
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = std::conditional_t<std::is_void_v<Yield>, char, Yield>;
    using difference_type = std::ptrdiff_t;

    iterator() noexcept = default;
    std::add_lvalue_reference_t<Yield> operator*() const noexcept { return *g_->root().value_; }
    iterator& operator++() {
      g_->resume_with(nullptr);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.g_->state() != generator_state::suspended;
    }

   private:
    friend class generator;
    explicit iterator(generator* g) noexcept : g_(g) {}
    generator* g_ = nullptr;
  };
  iterator begin()
    requires(!std::is_void_v<Yield>)
  {
    resume_with(nullptr);
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  explicit generator(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}

  base& root() const noexcept { return h_.promise(); }

  // Runs one step with `sent` (null: next()); true if the generator yielded.
  CORIO_ALWAYS_INLINE bool resume_with(std::add_pointer_t<Send> sent) {
    if (CORIO_UNLIKELY(!h_)) return false;
    base& r = root();
    if (CORIO_UNLIKELY(r.state_ != generator_state::suspended)) {
      if (r.state_ == generator_state::closed) return false;
      if (r.state_ == generator_state::running)
        detail::throw_generator_running("corio: generator::next/send: generator already executing");
      if (sent != nullptr) detail::throw_generator_not_started();
    }
    r.sent_ = sent;
    return finish(r, run(r));
  }

  // The root's resume loop: resumes the current leaf until a frame yields or
  // the root finishes. A delegation starting or ending changes the leaf and
  // goes round once more.
  static CORIO_ALWAYS_INLINE bool run(base& r) {
    r.state_ = generator_state::running;
    do r.leaf_.resume();
    while (r.state_ == generator_state::running);
    return r.state_ == generator_state::suspended;
  }

  static CORIO_ALWAYS_INLINE bool finish(base& r, bool yielded) {
    if (CORIO_UNLIKELY(!yielded) && r.error_) std::rethrow_exception(std::exchange(r.error_, nullptr));
    return yielded;
  }

  next_result take() {
    if constexpr (std::is_void_v<Yield>) {
      return true;
    } else {
      return next_result(std::move(*root().value_));
    }
  }

  // Destroys the delegation chain from the leaf up, so that a deep chain is
  // not destroyed by recursion (each frame owns the next one down).
  void destroy() noexcept {
    base& r = root();
    for (base* q = r.leaf_p_; q != &r;) {
      base* up = q->parent_;
      *q->owner_ = nullptr;
      q->self_.destroy();
      q = up;
    }
    h_.destroy();
  }

  std::coroutine_handle<promise_type> h_;
};

/// Python: `yield from gen`, written `co_yield corio::yield_from(gen)` (the
/// generator is moved in, or a call's result passed directly). Values, sends
/// and throw_() pass through to the sub-generator, close() closes it first;
/// the expression's value is its return value (Python: the value of the
/// `yield from` expression), and an exception escaping it is raised at the
/// `co_yield`. A generator already started continues where it was (Python
/// calls next() on it first). Both must have the same Yield and Send types.
template <class Y, class S, class R>
detail::gen_delegation<Y, S, R> yield_from(generator<Y, S, R>&& g) noexcept {
  return {&g};
}

namespace detail {

template <class Y, class S, class R>
generator<Y, S, R> gen_promise<Y, S, R>::get_return_object() noexcept {
  return generator<Y, S, R>(std::coroutine_handle<gen_promise>::from_promise(*this));
}

template <class Y, class S, class R>
template <class R2>
gen_delegate_awaiter<Y, S, R2> gen_promise<Y, S, R>::yield_value(gen_delegation<Y, S, R2> d) {
  auto h = std::exchange(d.gen->h_, nullptr);
  if (!h) throw std::invalid_argument("corio: yield_from: the generator is empty (moved from)");
  if (h.promise().state_ == generator_state::running) {
    d.gen->h_ = h;
    throw_generator_running("corio: yield_from: generator already executing");
  }
  return gen_delegate_awaiter<Y, S, R2>(h, this);
}

}  // namespace detail
}  // namespace corio

// A generator is a view (an input range that is cheap to move), as
// std::generator is; declared here rather than by deriving from
// view_interface, which clang 14 cannot instantiate with libstdc++ 12.
template <class Y, class S, class R>
inline constexpr bool std::ranges::enable_view<corio::generator<Y, S, R>> = true;
