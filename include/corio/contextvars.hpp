// Python: contextvars (ContextVar, Token, Context, copy_context).
//
// Each task runs in a copy of the context current when it was created (or in
// the Context given to create_task), so a value set inside a task is
// invisible to its creator and siblings (CV-06, CV-07); callbacks run in the
// context current when they were scheduled (CV-08); threads start with an
// empty context (CV-09). Copying a context is O(1); setting a variable copies
// the (small) map of the variables set in that context.
#pragma once

#include <corio/detail/context.hpp>
#include <corio/detail/repr.hpp>

#include <cstdint>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio {

/// Python: LookupError, raised by ContextVar.get() without a value or default.
class lookup_error : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

template <class T>
class context_var;

/// Python: contextvars.Context. Copies of this object refer to the same
/// context; copy() makes an independent one.
class context {
 public:
  /// An empty context.
  context();
  context(const context& o) noexcept : impl_(o.impl_) { impl_->retain(); }
  context& operator=(context o) noexcept {
    std::swap(impl_, o.impl_);
    return *this;
  }
  ~context() { impl_->release(); }

  /// Python: Context.copy().
  context copy() const;
  /// Python: Context.run(fn, *args): runs fn with this context current;
  /// what fn sets stays in this context (CV-04). std::runtime_error if this
  /// context is already entered, here or on another thread (CV-05).
  template <class F, class... A>
  decltype(auto) run(F&& fn, A&&... args) {
    enter_guard g(impl_);
    return std::forward<F>(fn)(std::forward<A>(args)...);
  }
  /// Python: `var in ctx`.
  template <class T>
  bool contains(const context_var<T>& v) const noexcept {
    return impl_->map && impl_->map->find(&v) != nullptr;
  }
  /// Python: ctx.get(var): the value, or nullopt.
  template <class T>
  std::optional<T> get(const context_var<T>& v) const;
  /// Python: len(ctx).
  std::size_t size() const noexcept { return impl_->map ? impl_->map->size : 0; }

  detail::context_impl* impl() const noexcept { return impl_; }

 private:
  explicit context(detail::context_impl* adopt) noexcept : impl_(adopt) {}
  friend context copy_context();
  struct enter_guard {
    explicit enter_guard(detail::context_impl* impl);
    ~enter_guard();
    enter_guard(const enter_guard&) = delete;
    enter_guard& operator=(const enter_guard&) = delete;
    detail::context_impl* impl;
    std::uintptr_t word;
    std::uintptr_t* prev;
  };
  detail::context_impl* impl_;
};

/// Python: contextvars.copy_context(): a new context with the current values.
context copy_context();

namespace detail {
template <class T>
struct typed_value final : ctx_value {
  T value;
  explicit typed_value(T v) : value(std::move(v)) {
    destroy = [](ctx_value* p) noexcept { delete static_cast<typed_value*>(p); };
  }
};
// Sets var in the current context to v (or removes it if v is null);
// returns the value it had and the context object, both references the
// caller owns (tokens keep their context alive, so its identity is unique).
struct set_result {
  ctx_value* old;
  context_impl* ctx;
};
set_result ctx_set(const void* var, ctx_value* v);
// The current context object, if it has one yet (CV-02: tokens belong to one).
const context_impl* current_ctx_identity() noexcept;
inline const ctx_value* ctx_find(const void* var) noexcept {
  const ctx_map* m = word_map(*current_ctx_slot());
  return m ? m->find(var) : nullptr;
}
}  // namespace detail

/// Python: contextvars.Token, what ContextVar.set() returns for reset().
template <class T>
class token {
 public:
  token(token&& o) noexcept
      : var_(o.var_), old_(std::exchange(o.old_, nullptr)), ctx_(std::exchange(o.ctx_, nullptr)), used_(o.used_) {}
  token(const token&) = delete;
  token& operator=(const token&) = delete;
  ~token() {
    if (old_) old_->release();
    if (ctx_) ctx_->release();
  }
  /// Python: Token.var.
  const context_var<T>& var() const noexcept { return *var_; }
  /// Python: Token.old_value (nullopt for Token.MISSING).
  std::optional<T> old_value() const {
    if (!old_) return std::nullopt;
    return static_cast<const detail::typed_value<T>*>(old_)->value;
  }
  /// Python: repr(token): `<Token var=<ContextVar name='x' at 0x...> at 0x...>`,
  /// `<Token used var=...>` once reset() used it.
  friend std::ostream& operator<<(std::ostream& os, const token& t) {
    os << (t.used_ ? "<Token used var=" : "<Token var=") << *t.var_ << " at ";
    detail::write_address(os, &t);
    return os << '>';
  }

 private:
  friend class context_var<T>;
  token(const context_var<T>* v, detail::ctx_value* old, detail::context_impl* ctx) noexcept
      : var_(v), old_(old), ctx_(ctx) {}
  const context_var<T>* var_;
  detail::ctx_value* old_;
  detail::context_impl* ctx_;
  bool used_ = false;
};

/// Python: contextvars.ContextVar. Identified by its address: make it a
/// global or a long-lived object, like a Python module-level ContextVar.
template <class T>
class context_var {
 public:
  explicit context_var(std::string name) : name_(std::move(name)) {}
  context_var(std::string name, T default_value) : name_(std::move(name)), default_(std::move(default_value)) {}
  context_var(const context_var&) = delete;
  context_var& operator=(const context_var&) = delete;

  /// Python: ContextVar.name.
  const std::string& name() const noexcept { return name_; }
  /// Python: repr(var): `<ContextVar name='request_id' default=0 at 0x...>`
  /// (no default= without one; a default with no text form shows its type).
  friend std::ostream& operator<<(std::ostream& os, const context_var& v) {
    os << "<ContextVar name=";
    detail::write_quoted(os, v.name_);
    if (v.default_) {
      os << " default=";
      detail::write_value(os, *v.default_);
    }
    os << " at ";
    detail::write_address(os, &v);
    return os << '>';
  }

  /// Python: ContextVar.get(): the value in the current context, else the
  /// variable's default, else throws lookup_error (CV-01).
  T get() const {
    if (const detail::ctx_value* v = detail::ctx_find(this)) return static_cast<const detail::typed_value<T>*>(v)->value;
    if (default_) return *default_;
    throw lookup_error("context variable '" + name_ + "' has no value");
  }
  /// Python: ContextVar.get(default).
  T get(T default_value) const {
    if (const detail::ctx_value* v = detail::ctx_find(this)) return static_cast<const detail::typed_value<T>*>(v)->value;
    return default_value;
  }
  /// Python: ContextVar.set(value): returns a token for reset().
  token<T> set(T value) {
    auto r = detail::ctx_set(this, new detail::typed_value<T>(std::move(value)));
    return token<T>(this, r.old, r.ctx);
  }
  /// Python: ContextVar.reset(token): restores the value before set().
  /// std::runtime_error if the token was used; std::invalid_argument if it
  /// belongs to another variable or was made in another context (CV-02).
  void reset(token<T>& t) {
    if (t.used_) throw std::runtime_error("Token has already been used once");
    if (t.var_ != this) throw std::invalid_argument("Token was created by a different ContextVar");
    if (t.ctx_ != detail::current_ctx_identity())
      throw std::invalid_argument("Token was created in a different Context");
    if (t.old_) t.old_->retain();
    auto r = detail::ctx_set(this, t.old_);
    if (r.old) r.old->release();
    r.ctx->release();
    t.used_ = true;
  }

 private:
  std::string name_;
  std::optional<T> default_;
};

template <class T>
std::optional<T> context::get(const context_var<T>& v) const {
  if (!impl_->map) return std::nullopt;
  const detail::ctx_value* p = impl_->map->find(&v);
  if (!p) return std::nullopt;
  return static_cast<const detail::typed_value<T>*>(p)->value;
}

}  // namespace corio
