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

std::exception_ptr make_os_error(int err, const std::string& context) {
  switch (err) {
    case ECONNRESET:
      return std::make_exception_ptr(connection_reset_error(err, context));
    case ECONNREFUSED:
      return std::make_exception_ptr(connection_refused_error(err, context));
    case ECONNABORTED:
      return std::make_exception_ptr(connection_aborted_error(err, context));
    case EPIPE:
    case ESHUTDOWN:
      return std::make_exception_ptr(broken_pipe_error(err, context));
    case ENOENT:
      return std::make_exception_ptr(file_not_found_error(err, context));
    case EACCES:
    case EPERM:
      return std::make_exception_ptr(permission_error(err, context));
    default:
      return std::make_exception_ptr(os_error(err, context));
  }
}

void throw_os_error(int err, const std::string& context) { std::rethrow_exception(make_os_error(err, context)); }

}  // namespace corio
