// Python: multiprocessing's start methods and contexts: set_start_method,
// get_start_method, get_all_start_methods, get_context.
//
// A context binds the API to one start method (MP-14). The other parts of
// multiprocessing (queues, locks, shared values, pools) take a context too;
// this header holds what starts processes and makes pipes.
//
// The default start method is fork, as on Linux up to Python 3.13. It can
// be set once, before the default context is used (MP-13).
#pragma once

#include <corio/multiprocessing/connection.hpp>
#include <corio/multiprocessing/process.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::multiprocessing {

/// Python: a multiprocessing context (get_context(method)): the API with one
/// start method. Cheap to copy.
class context {
 public:
  /// Python: ctx.get_start_method(): "fork", "spawn" or "forkserver".
  const std::string& get_start_method() const noexcept { return method_; }
  /// Python: ctx.get_context(): this context.
  const context& get_context() const noexcept { return *this; }
  /// Python: ctx.Process(...).start() in one: starts `p` with this
  /// context's method.
  void start(process& p) const;
  /// Python: ctx.Pipe(duplex).
  std::pair<connection, connection> pipe(bool duplex = true) const { return multiprocessing::pipe(duplex); }
  /// Python: ctx.cpu_count(), active_children(), current_process(), parent_process().
  int cpu_count() const { return multiprocessing::cpu_count(); }
  std::vector<process_handle> active_children() const { return multiprocessing::active_children(); }
  process_handle current_process() const { return multiprocessing::current_process(); }
  std::optional<process_handle> parent_process() const { return multiprocessing::parent_process(); }
  /// Python: ctx.set_start_method() on a context from get_context():
  /// std::invalid_argument (ValueError), the context is fixed.
  void set_start_method(std::string_view) const;

 private:
  friend context get_context(std::optional<std::string_view>);
  friend const context& default_context();
  explicit context(std::string m) : method_(std::move(m)) {}
  std::string method_;
};

/// Python: multiprocessing.get_all_start_methods(): the default first.
std::vector<std::string> get_all_start_methods();
/// Python: multiprocessing.get_start_method(allow_none=False): the default
/// context's method; asking fixes it (MP-13). With allow_none, "" if not set.
std::string get_start_method(bool allow_none = false);
/// Python: multiprocessing.set_start_method(method, force=False).
/// std::runtime_error("context has already been set") when it was set or
/// used already, unless `force`; std::invalid_argument for an unknown name.
void set_start_method(std::string_view method, bool force = false);
/// Python: multiprocessing.get_context(method=None): a context for
/// `method` (none: the default context's). std::invalid_argument for an
/// unknown name.
context get_context(std::optional<std::string_view> method = std::nullopt);

}  // namespace corio::multiprocessing
