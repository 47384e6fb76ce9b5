// Python: asyncio.gather (asyncio/tasks.py), and corio::outcome, the
// value-or-exception that gather(..., return_exceptions=True) puts in its list.
#pragma once

#include <corio/futures.hpp>
#include <corio/tasks.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace corio {

/// A value or the exception that took its place (Python: an item of
/// gather(..., return_exceptions=True)).
template <class T>
class outcome {
 public:
  outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}
  template <class... A>
  explicit outcome(std::in_place_t, A&&... a) : v_(std::in_place_index<0>, std::forward<A>(a)...) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  /// The value, or rethrows the exception.
  T& value() & {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && { return std::move(value()); }
  /// Null when there is a value.
  std::exception_ptr exception() const noexcept { return has_value() ? nullptr : std::get<1>(v_); }
  /// True if the exception is a cancelled_error (a cancelled child).
  bool cancelled() const noexcept { return !has_value() && is_cancelled_error(std::get<1>(v_)); }

 private:
  std::variant<T, std::exception_ptr> v_;
};

template <>
class outcome<void> {
 public:
  outcome() noexcept = default;
  outcome(std::exception_ptr e) : e_(std::move(e)) {}
  explicit outcome(std::in_place_t) noexcept {}
  bool has_value() const noexcept { return e_ == nullptr; }
  void value() const {
    if (e_) std::rethrow_exception(e_);
  }
  std::exception_ptr exception() const noexcept { return e_; }
  bool cancelled() const noexcept { return is_cancelled_error(e_); }

 private:
  std::exception_ptr e_;
};

namespace detail {

// What a gathered child contributes to a tuple or vector.
template <class T>
struct gathered {
  using type = T;
};
template <>
struct gathered<void> {
  using type = std::monostate;
};
template <class T>
struct gathered<T&> {
  using type = std::reference_wrapper<T>;
};

template <class T, bool Settled>
using gather_item = std::conditional_t<Settled, outcome<T>, typename gathered<T>::type>;

// Turns one gather argument into a handle of a scheduled child (CB-03:
// coroutines become tasks).
template <class T>
task<T> gather_child(task<T> t) {
  return t.scheduled() ? t : create_task(std::move(t));
}
template <class T>
future<T> gather_child(future<T> f) {
  return f;
}
inline any_task gather_child(any_task t) { return t; }

template <class H>
struct child_value {
  using type = typename H::value_type;
};
template <>
struct child_value<any_task> {
  using type = void;
};

template <class H>
result_slot<typename child_value<H>::type>& child_slot(H& h);
template <class T>
result_slot<T>& child_slot(task<T>& h) {
  return h.promise()->slot;
}
template <class T>
result_slot<T>& child_slot(future<T>& h) {
  return static_cast<future_state<T>*>(h.core())->slot;
}
inline result_slot<void>& child_slot(any_task& h) { return *reinterpret_cast<result_slot<void>*>(&h.core()->exc_slot()); }

// The item a finished child contributes. The value is moved out when the
// gather holds the only handle to the child, else copied.
template <class T, bool Settled, class H>
gather_item<T, Settled> take_item(H& h) {
  future_core* c = h.core();
  auto& slot = child_slot(h);
  c->set(future_core::f_retrieved);
  if constexpr (Settled) {
    if (c->state() != future_core::st_result) return outcome<T>(slot.exc);
    if constexpr (std::is_void_v<T>) {
      return outcome<void>();
    } else if constexpr (std::is_reference_v<T>) {
      return outcome<T>(std::in_place, slot.get());
    } else {
      if (c->refs == 1) return outcome<T>(std::in_place, std::move(slot.value));
      return outcome<T>(std::in_place, slot.value);
    }
  } else {
    if constexpr (std::is_void_v<T>) {
      return std::monostate{};
    } else if constexpr (std::is_reference_v<T>) {
      return std::ref(slot.get());
    } else {
      if constexpr (std::is_copy_constructible_v<T>)
        if (c->refs != 1) return T(slot.value);
      return T(std::move(slot.value));
    }
  }
}

// The untyped half of a gather: counting, early failure, cancellation.
struct gather_ctl {
  struct lone_listener : listener {
    gather_ctl* ctl;
  } lone;  // registered alone on every child
  future_state_base* self = nullptr;
  std::size_t remaining = 0;
  bool settled = false;
  bool cancel_requested = false;
  void (*complete)(gather_ctl*) = nullptr;  // builds the result
  bool (*cancel_children)(gather_ctl*, const std::string&) = nullptr;
  void (*for_each_child)(gather_ctl*, void (*)(future_core*)) = nullptr;

  void arm(future_state_base* s, loop_core& loop, std::size_t n);
  // A child already done counts at once (Python schedules its callback).
  void register_child(future_core* c) {
    if (c->done())
      child_done(&lone, c);
    else
      c->add_lone_listener(&lone);
  }
  // Children outlive the gather only if someone else holds them; what they
  // end with was the gather's to report, so it stays quiet (CB-06).
  void release_child(future_core* c) noexcept {
    if (!c->done() && c->remove_lone_listener(&lone)) c->set(future_core::f_retrieved);
  }
  void fail(const std::exception_ptr& e) noexcept;
  void complete_now(future_core* last) noexcept;
  static void child_done(listener* l, future_core* child) noexcept;
  static bool cancel(future_state_base* s, const std::string& msg);
};

template <class R>
struct gather_state : future_state<R> {
  gather_ctl ctl;
  gather_state() : future_state<R>(0) {}
};

template <bool Settled, class... H>
struct gather_tuple_state final
    : gather_state<std::tuple<gather_item<typename child_value<H>::type, Settled>...>> {
  using result = std::tuple<gather_item<typename child_value<H>::type, Settled>...>;
  std::tuple<H...> children;

  explicit gather_tuple_state(std::tuple<H...> c) : children(std::move(c)) {
    this->ctl.settled = Settled;
    this->destroy_fn = [](future_state_base* b) noexcept {
      auto* self = static_cast<gather_tuple_state*>(b);
      self->~gather_tuple_state();
      pool_deallocate(self, sizeof(gather_tuple_state));
    };
    this->ctl.complete = [](gather_ctl* g) {
      auto* self = static_cast<gather_tuple_state*>(g->self);
      std::apply(
          [&](auto&... h) {
            self->slot.emplace(take_item<typename child_value<std::remove_reference_t<decltype(h)>>::type, Settled>(h)...);
          },
          self->children);
    };
    this->ctl.cancel_children = [](gather_ctl* g, const std::string& msg) {
      auto* self = static_cast<gather_tuple_state*>(g->self);
      bool ret = false;
      std::apply([&](auto&... h) { ((ret = future_cancel(h.core(), msg) || ret), ...); }, self->children);
      return ret;
    };
    this->ctl.for_each_child = [](gather_ctl* g, void (*fn)(future_core*)) {
      std::apply([&](auto&... h) { (fn(h.core()), ...); }, static_cast<gather_tuple_state*>(g->self)->children);
    };
  }
  ~gather_tuple_state() {
    std::apply([&](auto&... h) { (this->ctl.release_child(h.core()), ...); }, children);
  }
};

template <class T, bool Settled>
using gather_vector_result =
    std::conditional_t<std::is_void_v<T> && !Settled, void, std::vector<gather_item<T, Settled>>>;

template <bool Settled, class H>
struct gather_vector_state final : gather_state<gather_vector_result<typename child_value<H>::type, Settled>> {
  using T = typename child_value<H>::type;
  using result = gather_vector_result<T, Settled>;
  std::vector<H> children;

  explicit gather_vector_state(std::vector<H> c) : children(std::move(c)) {
    this->ctl.settled = Settled;
    this->destroy_fn = [](future_state_base* b) noexcept {
      auto* self = static_cast<gather_vector_state*>(b);
      self->~gather_vector_state();
      pool_deallocate(self, sizeof(gather_vector_state));
    };
    this->ctl.complete = [](gather_ctl* g) {
      auto* self = static_cast<gather_vector_state*>(g->self);
      if constexpr (std::is_void_v<result>) {
        for (H& h : self->children) h.core()->set(future_core::f_retrieved);
      } else {
        result out;
        out.reserve(self->children.size());
        for (H& h : self->children) out.push_back(take_item<T, Settled>(h));
        self->slot.emplace(std::move(out));
      }
    };
    this->ctl.cancel_children = [](gather_ctl* g, const std::string& msg) {
      auto* self = static_cast<gather_vector_state*>(g->self);
      bool ret = false;
      for (H& h : self->children) ret = future_cancel(h.core(), msg) || ret;
      return ret;
    };
    this->ctl.for_each_child = [](gather_ctl* g, void (*fn)(future_core*)) {
      for (H& h : static_cast<gather_vector_state*>(g->self)->children) fn(h.core());
    };
  }
  ~gather_vector_state() {
    for (H& h : children) this->ctl.release_child(h.core());
  }
};

template <bool Settled, class... A>
auto gather_tuple(A&&... aws) {
  loop_core& loop = detail_core(get_running_loop());
  using S = gather_tuple_state<Settled, decltype(gather_child(std::declval<std::decay_t<A>>()))...>;
  // Braced initialisation evaluates left to right: children are scheduled in
  // argument order, as Python's gather does (make_tuple's order is unspecified).
  std::tuple<decltype(gather_child(std::declval<std::decay_t<A>>()))...> children{
      gather_child(std::decay_t<A>(std::forward<A>(aws)))...};
  S* s = ::new (pool_allocate(sizeof(S))) S(std::move(children));
  future<typename S::result> f(s);  // owns s from here on
  s->ctl.arm(s, loop, sizeof...(A));
  std::apply([&](auto&... h) { (s->ctl.register_child(h.core()), ...); }, s->children);
  return f;
}

template <bool Settled, class H>
auto gather_vector(std::vector<H> hs) {
  loop_core& loop = detail_core(get_running_loop());
  using C = decltype(gather_child(std::declval<H>()));
  std::vector<C> children;
  if constexpr (std::is_same_v<C, H>) {
    children = std::move(hs);
    for (C& c : children) c = gather_child(std::move(c));
  } else {
    children.reserve(hs.size());
    for (H& h : hs) children.push_back(gather_child(std::move(h)));
  }
  using S = gather_vector_state<Settled, C>;
  S* s = ::new (pool_allocate(sizeof(S))) S(std::move(children));
  future<typename S::result> f(s);
  s->ctl.arm(s, loop, s->children.size());
  for (C& c : s->children) s->ctl.register_child(c.core());
  if (s->children.empty()) s->ctl.complete_now(nullptr);  // CB-03: empty gather
  return f;
}

}  // namespace detail

/// Python: asyncio.gather(*aws). Runs the awaitables concurrently (coroutines
/// become tasks) and returns a future of a std::tuple of their results, in
/// argument order (CB-03); a void child gives std::monostate.
///
/// The first exception (or cancellation) of a child fails the gather at once;
/// the other children keep running (CB-05, CB-08). Cancelling the gather, or
/// the task awaiting it, cancels every child that is not done (CB-09).
template <class... A>
  requires(sizeof...(A) > 0)
auto gather(A&&... aws) {
  return detail::gather_tuple<false>(std::forward<A>(aws)...);
}

/// Python: asyncio.gather(*aws) over a vector of tasks or futures: a future
/// of std::vector of results (void for void tasks). Empty: done at once.
template <class H>
auto gather(std::vector<H> aws) {
  return detail::gather_vector<false>(std::move(aws));
}

/// Python: asyncio.gather(*aws, return_exceptions=True): each result is an
/// outcome<T>; exceptions and cancellations of children take their places
/// and never fail the gather (CB-07).
template <class... A>
  requires(sizeof...(A) > 0)
auto gather_settled(A&&... aws) {
  return detail::gather_tuple<true>(std::forward<A>(aws)...);
}
template <class H>
auto gather_settled(std::vector<H> aws) {
  return detail::gather_vector<true>(std::move(aws));
}

}  // namespace corio
