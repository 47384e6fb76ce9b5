#include <corio/threading/local.hpp>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace corio::threading::detail {

constinit thread_local local_table* tl_local_table CORIO_TLS_MODEL = nullptr;

namespace {

// Slot numbers of the local objects alive, reused once an object goes, so
// that a thread's table is as long as the most local objects that ever
// existed at once, not as all that were ever made.
struct index_pool {
  std::mutex mu;
  std::vector<std::uint32_t> free;
  std::uint32_t next = 0;

  std::uint32_t take() {
    std::lock_guard g(mu);
    if (free.empty()) return next++;
    const std::uint32_t i = free.back();
    free.pop_back();
    return i;
  }
  void give_back(std::uint32_t i) noexcept {
    std::lock_guard g(mu);
    try {
      free.push_back(i);
    } catch (...) {  // out of memory: the number is not reused
    }
  }
};

index_pool& indexes() {
  static auto* const p = new index_pool();  // never destroyed: threads may exit after static destructors
  return *p;
}

void release(local_control* c) noexcept {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete c;
}

// Takes `r` off its control block's list, with c->mu held.
void unlink(local_control* c, local_record* r) noexcept {
  if (r->prev) {
    r->prev->next = r->next;
  } else {
    c->records = r->next;
  }
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = nullptr;
}

// Frees a record of the calling thread's table, first destroying its value
// unless its local object did. The slot is already cleared.
void drop(local_record* r) noexcept {
  local_control* c = r->ctl;
  void* value;
  {
    std::lock_guard g(c->mu);
    value = r->value;
    if (value) {
      unlink(c, r);
      r->value = nullptr;
    }
  }
  if (value) c->destroy(value);  // outside the lock: it may use other locals
  release(c);
  delete r;
}

// The calling thread's table and, at the thread's exit, the end of its
// values. A value's destructor may use local objects again, filling slots
// that were emptied: the table is swept until it stays empty.
constinit thread_local bool tl_table_gone = false;

struct table_owner {
  local_table table;

  ~table_owner() {
    for (bool found = true; found;) {
      found = false;
      for (std::size_t i = 0; i < table.slots.size(); ++i) {
        if (local_record* r = table.slots[i]) {
          table.slots[i] = nullptr;
          drop(r);
          found = true;
        }
      }
    }
    tl_local_table = nullptr;
    tl_table_gone = true;
  }
};
thread_local table_owner tl_owner;

local_table& this_thread_table() {
  if (local_table* t = tl_local_table) return *t;
  if (tl_table_gone)
    throw std::runtime_error(
        "corio::threading::local: used by a thread that is exiting, after its values were destroyed");
  tl_local_table = &tl_owner.table;
  return tl_owner.table;
}

}  // namespace

namespace {
constinit thread_local local_making* tl_making = nullptr;
}  // namespace

local_making::local_making(const local_control* ctl) : c(ctl), outer(tl_making) {
  for (const local_making* m = outer; m; m = m->outer)
    if (m->c == ctl)
      throw std::logic_error(
          "corio::threading::local: the factory asked the local object it makes a value for for that value");
  tl_making = this;
}

local_making::~local_making() { tl_making = outer; }

local_control* local_create(void (*destroy)(void*) noexcept) {
  auto* c = new local_control();
  c->destroy = destroy;
  try {
    c->index = indexes().take();
  } catch (...) {
    delete c;
    throw;
  }
  return c;
}

void local_insert(local_control* c, void* value) {
  local_table& t = this_thread_table();
  if (t.slots.size() <= c->index) t.slots.resize(c->index + 1, nullptr);
  if (local_record* old = t.slots[c->index]) {
    if (old->ctl == c) throw std::logic_error("corio::threading::local: this thread has a value already");
    t.slots[c->index] = nullptr;  // a destroyed local's that had this slot
    drop(old);
  }
  auto* r = new local_record{c, value, nullptr, nullptr, &t};
  c->refs.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard g(c->mu);
    r->next = c->records;
    if (c->records) c->records->prev = r;
    c->records = r;
  }
  t.slots[c->index] = r;
}

void local_destroy(local_control* c) noexcept {
  local_table* const mine = tl_local_table;
  // One value at a time, each destroyed outside the lock: its destructor
  // may use other local objects, and a thread exiting meanwhile takes its
  // own value.
  for (;;) {
    local_record* r;
    void* value;
    bool own;
    {
      std::lock_guard g(c->mu);
      r = c->records;
      if (r == nullptr) break;
      unlink(c, r);
      value = std::exchange(r->value, nullptr);
      own = mine != nullptr && r->table == mine;
    }
    // A record of another thread stays in that thread's table until the
    // thread exits or reuses the slot (and may be freed there as soon as
    // the lock is released); this thread's goes now.
    if (own) {
      mine->slots[c->index] = nullptr;
      release(c);
      delete r;
    }
    c->destroy(value);
  }
  indexes().give_back(c->index);
  release(c);
}

}  // namespace corio::threading::detail
