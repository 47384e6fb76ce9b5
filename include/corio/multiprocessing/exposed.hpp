// Python: BaseManager.register's `exposed=` and the AutoProxy it makes: a
// user type served by a manager (MG-08, MG-09).
//
// The methods a proxy may call are declared once, at namespace scope,
// after the type:
//
//   struct counter {
//     int n = 0;
//     int increment(int by) { return n += by; }
//     int get() const { return n; }
//   };
//   CORIO_EXPOSE(counter, increment, get)
//
// A proxy<counter> then calls them by member pointer, in both forms:
//
//   p.call<&counter::increment>(2);              // blocking
//   co_await p.call_async<&counter::get>();      // in a running loop
//
// and calling a member that was not exposed does not compile. The wire
// carries the method's name. Arguments and results go through the codec,
// as the member declares them. A member returning corio::task<R> runs as a
// coroutine on the server's loop (it may wait without holding up other
// clients); any other member runs at once, and must not block.
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/detail/manager_referent.hpp>
#include <corio/multiprocessing/process.hpp>
#include <corio/multiprocessing/proxy.hpp>
#include <corio/tasks.hpp>

#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace corio::multiprocessing {

/// The exposed methods of T, given by CORIO_EXPOSE: `methods` is a tuple of
/// (name, member pointer) pairs.
template <class T>
struct exposed;

namespace detail {

template <class M>
struct member_traits;
#define CORIO_MEMBER_TRAITS_(CV, NOEXCEPT)                     \
  template <class C, class R, class... P>                      \
  struct member_traits<R (C::*)(P...) CV NOEXCEPT> {           \
    using result = R;                                          \
    using args = std::tuple<std::decay_t<P>...>;               \
  };
CORIO_MEMBER_TRAITS_(, )
CORIO_MEMBER_TRAITS_(const, )
CORIO_MEMBER_TRAITS_(, noexcept)
CORIO_MEMBER_TRAITS_(const, noexcept)
#undef CORIO_MEMBER_TRAITS_

template <class R>
struct task_result {
  static constexpr bool is_task = false;
  using type = R;
};
template <class R>
struct task_result<task<R>> {
  static constexpr bool is_task = true;
  using type = R;
};

template <class T>
concept has_exposed = requires { exposed<T>::methods; };

template <class A, class B>
constexpr bool same_member(A a, B b) {
  if constexpr (std::is_same_v<A, B>) {
    return a == b;
  } else {
    return false;
  }
}

// The name under which member M of T is exposed ("" if it is not).
template <class T, auto M>
constexpr std::string_view exposed_name() {
  std::string_view found;
  std::apply([&](const auto&... p) { ((same_member(p.second, M) ? (found = p.first, 0) : 0), ...); },
             exposed<T>::methods);
  return found;
}

// Calls `m` on `obj` with the arguments decoded as it declares them.
template <class T, class M>
auto invoke_member(T& obj, M m, const call_args& a, std::string_view name) {
  using args = typename member_traits<M>::args;
  a.expect(name, std::tuple_size_v<args>);
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return (obj.*m)(a.get<std::tuple_element_t<I, args>>(I)...);
  }(std::make_index_sequence<std::tuple_size_v<args>>());
}

// A user object in the server, dispatching on the exposed names.
template <class T>
class user_referent final : public referent {
 public:
  user_referent(std::shared_ptr<T> obj, std::string type_id) : obj_(std::move(obj)), type_id_(std::move(type_id)) {}

  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    int state = 0;  // 0: not found, 1: done, 2: a coroutine
    std::apply(
        [&](const auto&... p) {
          ((state == 0 && m == p.first ? (state = run_now(p.second, a, out, m), 0) : 0), ...);
        },
        exposed<T>::methods);
    if (state == 0) no_such_method(type_id_, m);
    return state == 1;
  }

  task<void> call_async(std::string m, const call_args& a, reply_writer& out, client_state&) override {
    std::optional<task<void>> t;
    std::apply(
        [&](const auto&... p) { ((!t && m == p.first ? (t.emplace(run_later(p.second, a, out, m)), 0) : 0), ...); },
        exposed<T>::methods);
    if (!t) no_such_method(type_id_, m);
    co_await std::move(*t);
  }

 private:
  template <class M>
  int run_now(M mem, const call_args& a, reply_writer& out, std::string_view name) {
    using R = typename member_traits<M>::result;
    if constexpr (task_result<R>::is_task) {
      return 2;
    } else if constexpr (std::is_void_v<R>) {
      invoke_member(*obj_, mem, a, name);
      return 1;
    } else {
      out.set(invoke_member(*obj_, mem, a, name));
      return 1;
    }
  }
  template <class M>
  task<void> run_later(M mem, const call_args& a, reply_writer& out, std::string_view name) {
    using R = typename member_traits<M>::result;
    if constexpr (task_result<R>::is_task) {
      using V = typename task_result<R>::type;
      if constexpr (std::is_void_v<V>) {
        co_await invoke_member(*obj_, mem, a, name);
      } else {
        out.set(co_await invoke_member(*obj_, mem, a, name));
      }
    } else {
      no_such_method(type_id_, name);
    }
  }

  std::shared_ptr<T> obj_;
  std::string type_id_;
};

template <class R, class... P>
R invoke_factory(R (*f)(P...), const call_args& a, std::string_view type_id) {
  a.expect(type_id, sizeof...(P));
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return f(a.get<std::decay_t<P>>(I)...);
  }(std::index_sequence_for<P...>());
}

// What the server calls to make a T: the factory (as a plain function
// pointer) with the creation arguments, into a referent.
using referent_maker = std::unique_ptr<referent> (*)(any_fn factory, const call_args& a, std::string_view type_id);

template <class T, class F>
std::unique_ptr<referent> make_user(any_fn factory, const call_args& a, std::string_view type_id) {
  const F f = reinterpret_cast<F>(factory);
  auto made = invoke_factory(f, a, type_id);
  if constexpr (std::is_same_v<decltype(made), std::shared_ptr<T>>) {
    return std::make_unique<user_referent<T>>(std::move(made), std::string(type_id));
  } else {
    return std::make_unique<user_referent<T>>(std::make_shared<T>(std::move(made)), std::string(type_id));
  }
}

}  // namespace detail

/// Python: AutoProxy[T]: a proxy to a user object of type T in a manager's
/// server. Only the members listed in CORIO_EXPOSE(T, ...) can be called.
template <class T>
class proxy : public base_proxy {
 public:
  static constexpr std::string_view type_name = "";  // the registered typeid
  static bool accepts(std::string_view) { return true; }
  using base_proxy::base_proxy;

  /// Python: proxy.method(args...) (_callmethod): one round trip.
  template <auto M, class... A>
  auto call(const A&... args) const {
    static_assert(detail::has_exposed<T>, "proxy<T>::call: T has no CORIO_EXPOSE(T, methods...)");
    constexpr std::string_view name = detail::exposed_name<T, M>();
    static_assert(!name.empty(), "proxy<T>::call: this member is not exposed: list it in CORIO_EXPOSE(T, ...)");
    using traits = detail::member_traits<decltype(M)>;
    using R = typename detail::task_result<typename traits::result>::type;
    using params = typename traits::args;
    static_assert(sizeof...(A) == std::tuple_size_v<params>, "proxy<T>::call: wrong number of arguments");
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return this->template call_method<R>(name, static_cast<std::tuple_element_t<I, params>>(args)...);
    }(std::index_sequence_for<A...>());
  }
  /// The same in a running loop.
  template <auto M, class... A>
  auto call_async(const A&... args) const {
    static_assert(detail::has_exposed<T>, "proxy<T>::call_async: T has no CORIO_EXPOSE(T, methods...)");
    constexpr std::string_view name = detail::exposed_name<T, M>();
    static_assert(!name.empty(), "proxy<T>::call_async: this member is not exposed: list it in CORIO_EXPOSE(T, ...)");
    using traits = detail::member_traits<decltype(M)>;
    using R = typename detail::task_result<typename traits::result>::type;
    using params = typename traits::args;
    static_assert(sizeof...(A) == std::tuple_size_v<params>, "proxy<T>::call_async: wrong number of arguments");
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return this->template call_method_async<R>(name, static_cast<std::tuple_element_t<I, params>>(args)...);
    }(std::index_sequence_for<A...>());
  }
};

}  // namespace corio::multiprocessing

// CORIO_EXPOSE(T, m1, m2, ...): up to 16 members.
#define CORIO_EXPOSE_PAIR_(T, m) std::pair<std::string_view, decltype(&T::m)>(#m, &T::m)
#define CORIO_EXPOSE_1_(T, a) CORIO_EXPOSE_PAIR_(T, a)
#define CORIO_EXPOSE_2_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_1_(T, __VA_ARGS__)
#define CORIO_EXPOSE_3_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_2_(T, __VA_ARGS__)
#define CORIO_EXPOSE_4_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_3_(T, __VA_ARGS__)
#define CORIO_EXPOSE_5_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_4_(T, __VA_ARGS__)
#define CORIO_EXPOSE_6_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_5_(T, __VA_ARGS__)
#define CORIO_EXPOSE_7_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_6_(T, __VA_ARGS__)
#define CORIO_EXPOSE_8_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_7_(T, __VA_ARGS__)
#define CORIO_EXPOSE_9_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_8_(T, __VA_ARGS__)
#define CORIO_EXPOSE_10_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_9_(T, __VA_ARGS__)
#define CORIO_EXPOSE_11_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_10_(T, __VA_ARGS__)
#define CORIO_EXPOSE_12_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_11_(T, __VA_ARGS__)
#define CORIO_EXPOSE_13_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_12_(T, __VA_ARGS__)
#define CORIO_EXPOSE_14_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_13_(T, __VA_ARGS__)
#define CORIO_EXPOSE_15_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_14_(T, __VA_ARGS__)
#define CORIO_EXPOSE_16_(T, a, ...) CORIO_EXPOSE_PAIR_(T, a), CORIO_EXPOSE_15_(T, __VA_ARGS__)
#define CORIO_EXPOSE_PICK_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, N, ...) N
#define CORIO_EXPOSE_N_(...)                                                                                      \
  CORIO_EXPOSE_PICK_(__VA_ARGS__, CORIO_EXPOSE_16_, CORIO_EXPOSE_15_, CORIO_EXPOSE_14_, CORIO_EXPOSE_13_,          \
                     CORIO_EXPOSE_12_, CORIO_EXPOSE_11_, CORIO_EXPOSE_10_, CORIO_EXPOSE_9_, CORIO_EXPOSE_8_,        \
                     CORIO_EXPOSE_7_, CORIO_EXPOSE_6_, CORIO_EXPOSE_5_, CORIO_EXPOSE_4_, CORIO_EXPOSE_3_,           \
                     CORIO_EXPOSE_2_, CORIO_EXPOSE_1_, )

/// Python: register(typeid, T, exposed=[...]): the members of T a proxy may
/// call (MG-08). At namespace scope, after T; members must not be
/// overloaded.
#define CORIO_EXPOSE(T, ...)                                                                         \
  template <>                                                                                        \
  struct corio::multiprocessing::exposed<T> {                                                        \
    static constexpr auto methods = std::make_tuple(CORIO_EXPOSE_N_(__VA_ARGS__)(T, __VA_ARGS__)); \
  };
