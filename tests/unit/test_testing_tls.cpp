// Tests of <corio/testing/tls.hpp>, the throwaway certificate authority.
#include <corio/testing/tls.hpp>

#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <memory>
#include <string>

namespace {

struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

x509_ptr parse(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  x509_ptr x(PEM_read_bio_X509(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  return x;
}

// The result of verifying `leaf` against `ca` for `host` (an X509_V_* code).
int verify(const std::string& ca, const std::string& leaf, const std::string& host) {
  x509_ptr root = parse(ca);
  x509_ptr cert = parse(leaf);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert.get(), nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  if (host.find_first_not_of("0123456789.") == std::string::npos || host.find(':') != std::string::npos)
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  else
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  X509_verify_cert(ctx);
  const int r = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return r;
}

TEST(TLSTestingKit, IssuedCertificatesVerifyStrictlyForTheirIdentities) {
  corio::testing::certificate_authority ca;
  const corio::testing::issued_cert cert = ca.issue_cert({"localhost", "127.0.0.1", "::1"});
  EXPECT_NE(cert.cert_pem().find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(cert.private_key_pem().find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(verify(ca.cert_pem(), cert.cert_pem(), "localhost"), X509_V_OK);
  EXPECT_EQ(verify(ca.cert_pem(), cert.cert_pem(), "127.0.0.1"), X509_V_OK);
  EXPECT_EQ(verify(ca.cert_pem(), cert.cert_pem(), "::1"), X509_V_OK);
  EXPECT_EQ(verify(ca.cert_pem(), cert.cert_pem(), "example.com"), X509_V_ERR_HOSTNAME_MISMATCH);
  corio::testing::certificate_authority other;
  EXPECT_EQ(verify(other.cert_pem(), cert.cert_pem(), "localhost"), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(TLSTestingKit, ValidityAndCommonNameCanBeChosen) {
  corio::testing::certificate_authority ca;
  const auto now = std::chrono::system_clock::now();
  corio::testing::cert_options old;
  old.common_name = "old one";
  old.not_before = now - std::chrono::hours(48);
  old.not_after = now - std::chrono::hours(24);
  const corio::testing::issued_cert cert = ca.issue_cert({"localhost"}, old);
  EXPECT_EQ(verify(ca.cert_pem(), cert.cert_pem(), "localhost"), X509_V_ERR_CERT_HAS_EXPIRED);
  x509_ptr x = parse(cert.cert_pem());
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "old one");
  EXPECT_THROW((void)ca.issue_cert({}), std::invalid_argument);
}

TEST(TLSTestingKit, ConfigureCertAndTrust) {
  corio::testing::certificate_authority ca;
  corio::ssl_context server(corio::ssl_protocol::tls_server);
  ca.issue_cert({"localhost"}).configure_cert(server);
  EXPECT_NE(SSL_CTX_get0_certificate(server.native_handle()), nullptr);
  corio::ssl_context client(corio::ssl_protocol::tls_client);
  ca.configure_trust(client);
  EXPECT_EQ(client.cert_store_stats().x509_ca, 1u);
}

}  // namespace
