// What ssl.hpp's handles share, and OpenSSL's errors as exceptions: the
// state behind an ssl_context and behind one connection's SSL. Not for users.
#pragma once

#include <corio/ssl.hpp>

#include <exception>
#include <string>

namespace corio::detail {

// The shared state of an ssl_context (OpenSSL's SSL_CTX and what Python
// keeps beside it).
struct ssl_context_state {
  ::ssl_ctx_st* ctx = nullptr;
  ssl_protocol protocol = ssl_protocol::tls_client;
  bool check_hostname = false;
  std::string alpn;  // the protocols in ALPN's wire format, for a server's choice
  ~ssl_context_state();
};

// One connection's OpenSSL SSL, shared with the ssl_object handles that
// get_extra_info gives out.
struct ssl_state {
  ::ssl_st* ssl = nullptr;
  ssl_context context;
  bool server_side = false;
  std::string server_hostname;
  ssl_state(ssl_context c, bool server, std::string host);
  ~ssl_state();
};

// The error OpenSSL's queue describes after a call failed with SSL_get_error
// code `ssl_errno`, as ssl_error, or ssl_certificate_verification_error when
// the peer's certificate was refused on connection `st`. `context` names
// what failed and the peer. Empties the queue.
std::exception_ptr make_ssl_error(int ssl_errno, const std::string& context, const ssl_state* st = nullptr);

}  // namespace corio::detail
