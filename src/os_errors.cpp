#include <corio/os_errors.hpp>

#include <netdb.h>

namespace corio {

namespace {
class gai_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int eai) const override { return ::gai_strerror(eai); }
};
}  // namespace

const std::error_category& gai_category() noexcept {
  static const gai_category_impl c;
  return c;
}

namespace {
template <class E>
std::exception_ptr make(int err, const std::string& context, const std::string* filename) {
  if (filename) return std::make_exception_ptr(E(err, context, *filename));
  return std::make_exception_ptr(E(err, context));
}

std::exception_ptr make_for(int err, const std::string& context, const std::string* filename) {
  switch (err) {
    case ECONNRESET:
      return make<connection_reset_error>(err, context, filename);
    case ECONNREFUSED:
      return make<connection_refused_error>(err, context, filename);
    case ECONNABORTED:
      return make<connection_aborted_error>(err, context, filename);
    case EPIPE:
    case ESHUTDOWN:
      return make<broken_pipe_error>(err, context, filename);
    case ENOENT:
      return make<file_not_found_error>(err, context, filename);
    case EEXIST:
      return make<file_exists_error>(err, context, filename);
    case EACCES:
    case EPERM:
      return make<permission_error>(err, context, filename);
    case EISDIR:
      return make<is_a_directory_error>(err, context, filename);
    case ENOTDIR:
      return make<not_a_directory_error>(err, context, filename);
    case ECHILD:
      return make<child_process_error>(err, context, filename);
    case ESRCH:
      return make<process_lookup_error>(err, context, filename);
    default:
      return make<os_error>(err, context, filename);
  }
}
}  // namespace

std::exception_ptr make_os_error(int err, const std::string& context) { return make_for(err, context, nullptr); }

std::exception_ptr make_os_error(int err, const std::string& context, const std::string& filename) {
  return make_for(err, context, &filename);
}

void throw_os_error(int err, const std::string& context) { std::rethrow_exception(make_os_error(err, context)); }

}  // namespace corio
