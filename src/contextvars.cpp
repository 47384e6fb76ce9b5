#include <corio/contextvars.hpp>
#include <corio/tasks.hpp>

#include <algorithm>
#include <new>
#include <utility>

namespace corio {

namespace detail {

std::atomic<bool> g_contexts_in_use{false};

namespace {

ctx_map* alloc_map(std::uint32_t n) {
  const std::size_t bytes = sizeof(ctx_map) + (n > 0 ? n - 1 : 0) * sizeof(ctx_map::entry);
  auto* m = ::new (::operator new(bytes)) ctx_map;
  m->size = n;
  return m;
}

}  // namespace

ctx_value* ctx_map::find(const void* var) const noexcept {
  const entry* b = entries;
  const entry* e = entries + size;
  const entry* it = std::lower_bound(b, e, var, [](const entry& x, const void* v) { return x.var < v; });
  return (it != e && it->var == var) ? it->value : nullptr;
}

ctx_map* ctx_map::with(const ctx_map* m, const void* var, ctx_value* v) {
  const std::uint32_t n = m ? m->size : 0;
  const bool replace = m && m->find(var);
  ctx_map* r = alloc_map(replace ? n : n + 1);
  std::uint32_t j = 0;
  bool placed = false;
  for (std::uint32_t i = 0; i < n; ++i) {
    const entry& e = m->entries[i];
    if (!placed && var <= e.var) {
      r->entries[j++] = {var, v};
      placed = true;
      if (e.var == var) continue;  // replaced
    }
    e.value->retain();
    r->entries[j++] = e;
  }
  if (!placed) r->entries[j++] = {var, v};
  return r;
}

ctx_map* ctx_map::without(const ctx_map* m, const void* var) {
  if (!m || !m->find(var)) {
    retain(m);
    return const_cast<ctx_map*>(m);
  }
  if (m->size == 1) return nullptr;
  ctx_map* r = alloc_map(m->size - 1);
  std::uint32_t j = 0;
  for (std::uint32_t i = 0; i < m->size; ++i) {
    const entry& e = m->entries[i];
    if (e.var == var) continue;
    e.value->retain();
    r->entries[j++] = e;
  }
  return r;
}

void ctx_map::release(const ctx_map* m) noexcept {
  if (!m) return;
  auto* mm = const_cast<ctx_map*>(m);
  if (mm->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  for (std::uint32_t i = 0; i < mm->size; ++i) mm->entries[i].value->release();
  mm->~ctx_map();
  ::operator delete(mm);
}

void context_impl::release() noexcept {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  ctx_map::release(map);
  delete this;
}

void release_word(std::uintptr_t w) noexcept {
  if (w & kImplTag)
    reinterpret_cast<context_impl*>(w & ~kImplTag)->release();
  else
    ctx_map::release(reinterpret_cast<const ctx_map*>(w));
}

void release_ctx_word(std::uintptr_t w) noexcept { release_word(w); }

const context_impl* current_ctx_identity() noexcept {
  const std::uintptr_t w = *current_ctx_slot();
  return (w & kImplTag) ? reinterpret_cast<const context_impl*>(w & ~kImplTag) : nullptr;
}

namespace {
// A thread's own context lives in a trivially destructible thread-local word;
// this owner releases it when a thread that set variables ends.
struct thread_ctx_owner {
  bool armed = false;
  ~thread_ctx_owner() {
    if (!armed) return;
    const std::uintptr_t w = std::exchange(tls.thread_ctx, 0);
    release_word(w);
  }
};
thread_local thread_ctx_owner tl_ctx_owner;
}  // namespace

set_result ctx_set(const void* var, ctx_value* v) {
  g_contexts_in_use.store(true, std::memory_order_relaxed);
  std::uintptr_t* slot = current_ctx_slot();
  if (slot == &tls.thread_ctx) tl_ctx_owner.armed = true;
  const std::uintptr_t w = *slot;
  context_impl* impl;
  if (w & kImplTag) {
    impl = reinterpret_cast<context_impl*>(w & ~kImplTag);
  } else {
    // The first set in a task's, callback's or thread's own context turns it
    // into a context object, which tokens can hold on to.
    try {
      impl = new context_impl;
    } catch (...) {
      if (v) v->release();
      throw;
    }
    impl->map = reinterpret_cast<const ctx_map*>(w);  // adopts the word's reference
    *slot = reinterpret_cast<std::uintptr_t>(impl) | kImplTag;
  }
  const ctx_map* m = impl->map;
  ctx_value* old = m ? m->find(var) : nullptr;
  if (old) old->retain();
  ctx_map* nm;
  try {
    nm = v ? ctx_map::with(m, var, v) : ctx_map::without(m, var);
  } catch (...) {
    if (old) old->release();
    if (v) v->release();
    throw;
  }
  impl->map = nm;
  ctx_map::release(m);
  impl->retain();
  return {old, impl};
}

context_impl* impl_of(const context* c) noexcept { return c ? c->impl() : nullptr; }

}  // namespace detail

context::context() : impl_(new detail::context_impl) { detail::g_contexts_in_use.store(true, std::memory_order_relaxed); }

context context::copy() const {
  auto* impl = new detail::context_impl;
  detail::ctx_map::retain(impl_->map);
  impl->map = impl_->map;
  return context(impl);
}

context copy_context() {
  auto* impl = new detail::context_impl;
  impl->map = detail::word_map(*detail::current_ctx_slot());
  detail::ctx_map::retain(impl->map);
  return context(impl);
}

context::enter_guard::enter_guard(detail::context_impl* i) : impl(i) {
  // CV-05: a context is entered once at a time: by run(), or by the task
  // running in it (Python: each step of such a task runs inside ctx.run).
  const std::uintptr_t mine = reinterpret_cast<std::uintptr_t>(impl) | detail::kImplTag;
  if (detail::task_base* t = detail::tls.current_task; t && !detail::tls.ctx_slot && *t->ctx_slot() == mine)
    throw std::runtime_error("cannot enter context: it is already entered");
  bool expected = false;
  if (!impl->entered.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
    throw std::runtime_error("cannot enter context: it is already entered");
  word = mine;
  prev = detail::tls.ctx_slot;
  detail::tls.ctx_slot = &word;
}

context::enter_guard::~enter_guard() {
  detail::tls.ctx_slot = prev;
  impl->entered.store(false, std::memory_order_release);
}

std::function<void()> detail::bind_to_current_context(std::function<void()> fn) {
  return [ctx = copy_context(), f = std::move(fn)]() mutable { ctx.run(f); };
}

}  // namespace corio
