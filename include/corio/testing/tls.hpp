// The TLS part of the testing kit (Python: trustme, the throwaway
// certificate authority that the test-suites of Trio, httpx and urllib3
// use): a CA made in memory when a test starts, and the certificates it
// issues for the names and addresses the test connects to, so that TLS is
// tested for real, verification included, without files checked in or
// certificates that expire. For tests and examples only: the keys are
// never protected.
#pragma once

#include <corio/ssl.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace corio::testing {

/// What issue_cert may be told besides the identities (Python: the keyword
/// arguments of trustme.CA.issue_cert).
struct cert_options {
  /// The subject's commonName; by default the first identity.
  std::string common_name{};
  /// Validity; by default from a day ago for ten years. A not_after in the
  /// past makes an expired certificate.
  std::optional<std::chrono::system_clock::time_point> not_before{};
  std::optional<std::chrono::system_clock::time_point> not_after{};
};

/// Python: trustme.LeafCert: a certificate the CA issued, and its key.
class issued_cert {
 public:
  issued_cert(std::string cert_pem, std::string key_pem) : cert_(std::move(cert_pem)), key_(std::move(key_pem)) {}
  /// The certificate, PEM (Python: cert_chain_pems[0]).
  const std::string& cert_pem() const noexcept { return cert_; }
  /// Its private key, PEM, unencrypted (Python: private_key_pem).
  const std::string& private_key_pem() const noexcept { return key_; }
  /// Python: LeafCert.configure_cert(ctx): `ctx` presents this certificate
  /// (as load_cert_chain does, from memory).
  void configure_cert(ssl_context& ctx) const;

 private:
  std::string cert_;
  std::string key_;
};

/// Python: trustme.CA. A new certificate authority with a fresh key (EC
/// P-256, so that making one takes well under a millisecond).
class certificate_authority {
 public:
  certificate_authority();

  /// The CA's certificate, PEM (Python: cert_pem).
  const std::string& cert_pem() const noexcept { return cert_; }
  /// Python: CA.issue_cert(*identities): a certificate for DNS names and
  /// IP addresses ("localhost", "127.0.0.1", "::1"), all in its
  /// subjectAltName, valid for both server and client authentication.
  /// std::invalid_argument without an identity.
  issued_cert issue_cert(const std::vector<std::string>& identities, const cert_options& opts = {}) const;
  /// Python: CA.configure_trust(ctx): `ctx` trusts this CA.
  void configure_trust(ssl_context& ctx) const;

 private:
  std::string cert_;
  std::string key_;
};

}  // namespace corio::testing
