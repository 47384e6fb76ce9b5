#include <corio/generator.hpp>

#include <corio/detail/repr.hpp>
#include <corio/detail/task_base.hpp>

#include <ostream>
#include <stdexcept>
#include <string>

namespace corio::detail {

void throw_generator_running(const char* msg) { throw generator_running(msg); }

void write_generator(std::ostream& os, const char* kind, std::coroutine_handle<> frame, generator_state s) {
  if (!frame) {
    os << '<' << kind << " (empty)>";
    return;
  }
  static constexpr const char* kStates[] = {"CREATED", "RUNNING", "SUSPENDED", "CLOSED"};
  os << '<' << kind << " object " << coroutine_function(frame) << " at ";
  write_address(os, frame.address());
  os << " [" << (kind[0] == 'a' ? "AGEN_" : "GEN_") << kStates[static_cast<int>(s)] << "]>";
}

void throw_generator_not_started() {
  throw generator_not_started(
      "corio: generator::send: can't send a value to a just-started generator; start it with next()");
}

void throw_generator_ignored_exit(const char* kind) {
  std::string msg = "corio: ";
  msg += kind;
  msg += " ignored GeneratorExit: it yielded while being closed";
  throw std::runtime_error(msg);
}

void throw_no_return_value(generator_state s) {
  switch (s) {
    case generator_state::created:
      throw invalid_state_error("corio: generator::return_value: the generator has not started");
    case generator_state::running:
    case generator_state::suspended:
      throw invalid_state_error("corio: generator::return_value: the generator has not finished");
    case generator_state::closed:
      break;
  }
  throw invalid_state_error(
      "corio: generator::return_value: the generator finished without returning a value (it raised or was closed)");
}

std::exception_ptr generator_exit_ptr() { return std::make_exception_ptr(generator_exit()); }

}  // namespace corio::detail
