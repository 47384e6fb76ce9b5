// What crosses between a pool and its workers: calls, chunks of arguments
// and results, and the functions that decode, run and encode them in a
// worker. Not for users.
//
// A call is (trampoline, function, callable bytes, encoded arguments). The
// trampoline is an instantiation of run_apply or run_chunk for the call's
// types; it and the function cross as their offset inside their module
// (the program or a shared library), as a spawned process's target does, so
// the same message works for fork, spawn and forkserver workers. A callable
// that is not a function (fork only, or an empty function object) crosses
// as its bytes: it must be trivially copyable.
//
// Chunks of arithmetic values cross as their raw bytes (the worker is the
// same program, so the same layout); everything else through the codec.
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/process.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::multiprocessing::detail {

// A function as it crosses to a worker: its module ("" for the program) and
// its offset there.
struct code_ref {
  std::string module;
  std::uint64_t offset = 0;
  CORIO_CODEC(module, offset)
};
// Where `f` lives (cached). std::invalid_argument naming `what` if it is not
// code of the program or of a shared library.
code_ref locate_code(any_fn f, const char* what);
// The address of `r` in this process (cached). std::runtime_error if its
// module is not loaded or the offset is not code.
any_fn resolve_code(const code_ref& r);

// Runs in a worker: decodes the arguments, calls, encodes the outcome into
// `out` (a value, or a chunk of values).
using pool_trampoline = void (*)(any_fn fn, std::string_view fn_bytes, std::string_view args, std::string& out);

// -- the callable --------------------------------------------------------------------

template <class F>
inline constexpr bool pool_bytes_ok = std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>;

// How a callable of type F is rebuilt in the worker: a function from its
// address, anything else from its bytes.
template <class C, bool Bytes>
struct callable_from {
  static C get(any_fn fn, std::string_view bytes) {
    if constexpr (Bytes) {
      if (bytes.size() != sizeof(C)) throw codec_error("pool: the callable's bytes do not match its type");
      alignas(C) unsigned char buf[sizeof(C)];
      std::memcpy(buf, bytes.data(), sizeof(C));
      return *std::launder(reinterpret_cast<C*>(buf));
    } else {
      (void)bytes;
      return reinterpret_cast<C>(fn);
    }
  }
};

// The type a callable is called through in the worker: a function pointer
// for a function or capture-less lambda, else the callable's own type.
template <class F>
struct pool_callable {
  static constexpr bool is_function = false;
  using type = F;
  static constexpr bool from_bytes = true;
};
template <class F>
  requires function_like<const F&>
struct pool_callable<F> {
  static constexpr bool is_function = true;
  using type = decltype(+std::declval<const F&>());
  static constexpr bool from_bytes = false;
};

// Writes the arguments of a call as the tuple run_apply decodes.
template <class... A>
void encode_args(std::string& out, const A&... args) {
  codec_writer w(out);
  packer p(w);
  p.pack_array(static_cast<std::uint32_t>(sizeof...(A)));
  (codec<A>::encode(p, args), ...);
}

// -- chunks --------------------------------------------------------------------------

template <class T>
inline constexpr bool raw_chunk = (std::is_arithmetic_v<T> || std::is_enum_v<T>) && !std::is_same_v<T, bool>;

// Writes n items of type T from `first` (a pointer or any input iterator).
template <class T, class It>
void encode_chunk(std::string& out, It first, std::size_t n) {
  if constexpr (raw_chunk<T> && std::is_same_v<It, const T*>) {
    out.append(reinterpret_cast<const char*>(first), n * sizeof(T));
  } else if constexpr (raw_chunk<T>) {
    for (std::size_t i = 0; i < n; ++i, ++first) {
      const T x = *first;
      out.append(reinterpret_cast<const char*>(&x), sizeof(T));
    }
  } else {
    codec_writer w(out);
    packer pk(w);
    pk.pack_array(static_cast<std::uint32_t>(n));
    for (std::size_t i = 0; i < n; ++i, ++first) codec<T>::encode(pk, static_cast<const T&>(*first));
  }
}

template <class T>
void encode_vector(std::string& out, const std::vector<T>& v) {
  if constexpr (std::is_same_v<T, bool>) {
    encode_chunk<T>(out, v.cbegin(), v.size());
  } else {
    encode_chunk<T>(out, static_cast<const T*>(v.data()), v.size());
  }
}

template <class T>
std::vector<T> decode_chunk(std::string_view data) {
  if constexpr (raw_chunk<T>) {
    if (data.size() % sizeof(T) != 0) throw codec_error("pool: a chunk's size is not a multiple of its item's");
    std::vector<T> v(data.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), data.data(), data.size());
    return v;
  } else {
    return decode<std::vector<T>>(data);
  }
}

// -- trampolines -----------------------------------------------------------------------

template <class C, bool Bytes, class... A>
void run_apply(any_fn fn, std::string_view fn_bytes, std::string_view args, std::string& out) {
  C c = callable_from<C, Bytes>::get(fn, fn_bytes);
  auto tup = decode<std::tuple<A...>>(args);
  using R = std::remove_cvref_t<std::invoke_result_t<C&, A&&...>>;
  if constexpr (std::is_void_v<R>) {
    std::apply(c, std::move(tup));
    encode_into(out, nullptr);
  } else {
    const R r = std::apply(c, std::move(tup));
    encode_into(out, r);
  }
}

// map: one argument per item.
template <class C, bool Bytes, class A>
void run_chunk(any_fn fn, std::string_view fn_bytes, std::string_view args, std::string& out) {
  C c = callable_from<C, Bytes>::get(fn, fn_bytes);
  std::vector<A> items = decode_chunk<A>(args);
  using R = std::remove_cvref_t<std::invoke_result_t<C&, A&&>>;
  std::vector<R> rs;
  rs.reserve(items.size());
  for (A& x : items) rs.push_back(c(std::move(x)));
  encode_vector(out, rs);
}

// starmap: each item is a tuple of arguments.
template <class C, bool Bytes, class Tup>
void run_starchunk(any_fn fn, std::string_view fn_bytes, std::string_view args, std::string& out) {
  C c = callable_from<C, Bytes>::get(fn, fn_bytes);
  std::vector<Tup> items = decode<std::vector<Tup>>(args);
  using R = std::remove_cvref_t<decltype(std::apply(c, std::move(items[0])))>;
  std::vector<R> rs;
  rs.reserve(items.size());
  for (Tup& x : items) rs.push_back(std::apply(c, std::move(x)));
  encode_vector(out, rs);
}

// What the parent keeps of a call: the head of each task message for it.
struct pool_call {
  code_ref trampoline;
  code_ref fn;
  std::string fn_bytes;
  std::string type;  // the callable's type, for errors
};

// Builds the call for callable `f` run through `tr`; `spawnlike` is true
// for spawn and forkserver workers, which cannot take a callable's bytes
// unless it is empty.
template <class F>
pool_call make_pool_call(const F& f, pool_trampoline tr, bool spawnlike) {
  pool_call c;
  c.type = type_name_of(typeid(F));
  c.trampoline = locate_code(reinterpret_cast<any_fn>(tr), "the pool's trampoline");
  if constexpr (pool_callable<F>::is_function) {
    c.fn = locate_code(reinterpret_cast<any_fn>(+f), "the pool's function");
  } else {
    if (spawnlike && !std::is_empty_v<F>)
      throw std::invalid_argument("pool: with spawn or forkserver the function must be a function or a capture-less "
                                  "lambda, not " +
                                  c.type);
    c.fn_bytes.assign(reinterpret_cast<const char*>(&f), sizeof(F));
  }
  return c;
}

// The task messages of one job, one after another in one buffer (a big
// map's arguments are one allocation, not one per chunk).
struct task_frames {
  std::string blob;
  std::vector<std::size_t> ends;  // where each message ends in blob
  // When not empty, each message goes on with these bytes, which the
  // caller keeps alive until the job is complete (a blocking map's input).
  std::vector<std::string_view> tails;
  // Starts the next message; append its arguments to blob, then end().
  void end() { ends.push_back(blob.size()); }
};

// A task message is [u32 head length][head: job, index, call][arguments]:
// writes the first two into `out`; the caller appends the arguments.
void begin_task_frame(std::string& out, std::uint64_t job, std::uint32_t index, const pool_call& call);

}  // namespace corio::multiprocessing::detail
