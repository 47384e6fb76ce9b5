// Addresses of listeners and clients (see multiprocessing/address.hpp).
#include <corio/multiprocessing/address.hpp>

#include <ostream>

namespace corio::multiprocessing {

const char* to_string(family f) noexcept {
  switch (f) {
    case family::af_unix:
      return "AF_UNIX";
    case family::af_inet:
      return "AF_INET";
    case family::af_inet6:
      return "AF_INET6";
  }
  return "?";
}

family address::family() const noexcept {
  if (!tcp_) return family::af_unix;
  return host_.find(':') != std::string::npos ? family::af_inet6 : family::af_inet;
}

std::string address::to_string() const {
  std::string s;
  if (!tcp_) {
    if (!is_abstract()) return path_;
    s.append(1, '@').append(path_, 1);
    return s;
  }
  const bool v6 = family() == family::af_inet6;
  if (v6) s.append(1, '[');
  s.append(host_);
  if (v6) s.append(1, ']');
  s.append(1, ':').append(std::to_string(port_));
  return s;
}

std::ostream& operator<<(std::ostream& os, const address& a) { return os << a.to_string(); }

}  // namespace corio::multiprocessing
