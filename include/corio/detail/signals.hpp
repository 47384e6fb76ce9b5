// What corio::run needs of the loop's signal handling for EL-28 (Ctrl-C
// cancels the main task). Not for users; the public face is
// event_loop::add_signal_handler.
#pragma once

#include <corio/detail/loop_core.hpp>

#include <functional>
#include <string>

namespace corio::detail {

// A handler installed on a loop's behalf by `owner` (the runner): the
// user's remove_signal_handler does not see it (Python's runner installs
// its SIGINT handler with signal.signal, not through the loop), while the
// user's add_signal_handler replaces it as usual.
void add_owned_signal_handler(loop_core& loop, int sig, std::function<void()> fn, const void* owner);
// Removes `owner`'s handler for `sig`, restoring the earlier disposition;
// false if the handler is not (or no longer) owner's.
bool remove_owned_signal_handler(loop_core& loop, int sig, const void* owner) noexcept;
// True if `sig` has the default disposition (SIG_DFL): nobody, corio or
// the program, handles or ignores it.
bool signal_is_default(int sig) noexcept;
// "SIGINT (2)".
std::string signal_name(int sig);

}  // namespace corio::detail
