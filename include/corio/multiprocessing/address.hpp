// Python: the addresses of multiprocessing.connection (a str naming an
// AF_UNIX socket, a (host, port) tuple naming a TCP one) and their
// families.
#pragma once

#include <corio/multiprocessing/codec.hpp>

#include <compare>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace corio::multiprocessing {

/// Python: the `family` of Listener and Client ('AF_UNIX', 'AF_INET'), with
/// AF_INET6 for an IPv6 host.
enum class family { af_unix, af_inet, af_inet6 };

/// Python: "AF_UNIX", "AF_INET", "AF_INET6".
const char* to_string(family f) noexcept;

/// Python: a Listener or Client address: an AF_UNIX path (a leading '\0'
/// names an abstract socket) or a TCP (host, port). Printable
/// ("/tmp/x.sock", "@name", "127.0.0.1:5000", "[::1]:5000") and comparable.
class address {
 public:
  /// An AF_UNIX path (Python: a str). Implicit, as a str is in Python.
  address(std::string path) : path_(std::move(path)) {}
  address(const char* path) : path_(path) {}
  /// A TCP address (Python: a (host, port) tuple); the host is a name or a
  /// numeric IPv4 or IPv6 address.
  address(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port), tcp_(true) {}

  /// Python: address_type(address): af_unix for a path, af_inet6 for a host
  /// spelled as an IPv6 address (it holds a ':'), else af_inet.
  multiprocessing::family family() const noexcept;
  bool is_unix() const noexcept { return !tcp_; }
  /// True for a path starting with '\0' (Linux's abstract namespace).
  bool is_abstract() const noexcept { return !tcp_ && !path_.empty() && path_[0] == '\0'; }
  /// The AF_UNIX path ("" for a TCP address).
  const std::string& path() const noexcept { return path_; }
  /// The TCP host and port ("" and 0 for a path).
  const std::string& host() const noexcept { return host_; }
  std::uint16_t port() const noexcept { return port_; }
  /// "/tmp/x.sock", "@name" (abstract), "127.0.0.1:5000", "[::1]:5000".
  std::string to_string() const;

  friend bool operator==(const address&, const address&) = default;
  friend std::strong_ordering operator<=>(const address& a, const address& b) noexcept {
    if (auto c = a.tcp_ <=> b.tcp_; c != 0) return c;
    if (auto c = a.path_.compare(b.path_) <=> 0; c != 0) return c;
    if (auto c = a.host_.compare(b.host_) <=> 0; c != 0) return c;
    return a.port_ <=> b.port_;
  }

 private:
  std::string path_;
  std::string host_;
  std::uint16_t port_ = 0;
  bool tcp_ = false;
};

std::ostream& operator<<(std::ostream& os, const address& a);

/// An address crosses a process as Python would pickle it for msgpack: a
/// path as a string, a TCP address as [host, port].
template <>
struct codec<address> {
  static void encode(packer& p, const address& a) {
    if (a.is_unix()) {
      codec<std::string>::encode(p, a.path());
      return;
    }
    p.pack_array(2);
    codec<std::string>::encode(p, a.host());
    codec<std::uint16_t>::encode(p, a.port());
  }
  static address decode(const object& o) {
    if (o.type == msgpack::type::STR) return address(codec<std::string>::decode(o));
    detail::check_array<address>(o, 2);
    return address(codec<std::string>::decode(o.via.array.ptr[0]), codec<std::uint16_t>::decode(o.via.array.ptr[1]));
  }
};

}  // namespace corio::multiprocessing
