// Tests of <corio/ssl.hpp> without a connection: each method of
// ssl_context, create_default_context, and the errors. Handshakes are in
// tests/io/test_ssl.cpp.
#include <corio/ssl.hpp>

#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string>

#include "io/tls_util.hpp"

namespace {

using corio_test::tls_files;

// A certificate in DER form, as Python's cadata also accepts.
std::string der_of(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  unsigned char* der = nullptr;
  const int n = i2d_X509(x, &der);
  std::string s(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  X509_free(x);
  BIO_free(b);
  return s;
}

// The key of `pem`, encrypted with `password`.
std::string encrypted_key(const std::string& pem, const std::string& password) {
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_128_cbc(), password.data(), static_cast<int>(password.size()),
                                nullptr, nullptr);
  char* p = nullptr;
  const long n = BIO_get_mem_data(out, &p);
  std::string s(p, static_cast<std::size_t>(n));
  BIO_free(out);
  EVP_PKEY_free(key);
  BIO_free(in);
  return s;
}

TEST(SSLContext, ClientProtocolVerifiesByDefault) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_client);
  EXPECT_EQ(ctx.protocol(), corio::ssl_protocol::tls_client);
  EXPECT_EQ(ctx.verify_mode(), corio::verify_mode::required);
  EXPECT_TRUE(ctx.check_hostname());
  EXPECT_EQ(ctx.minimum_version(), corio::tls_version::tlsv1_2);  // Python 3.10+
  EXPECT_EQ(ctx.maximum_version(), corio::tls_version::maximum_supported);
  EXPECT_EQ(ctx.cert_store_stats().x509, 0u);  // no CA until one is loaded
}

TEST(SSLContext, ServerProtocolVerifiesNothingByDefault) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_server);
  EXPECT_EQ(ctx.protocol(), corio::ssl_protocol::tls_server);
  EXPECT_EQ(ctx.verify_mode(), corio::verify_mode::none);
  EXPECT_FALSE(ctx.check_hostname());
}

TEST(SSLContext, CreateDefaultContextForClients) {
  corio::ssl_context ctx = corio::create_default_context();
  EXPECT_EQ(ctx.protocol(), corio::ssl_protocol::tls_client);
  EXPECT_EQ(ctx.verify_mode(), corio::verify_mode::required);
  EXPECT_TRUE(ctx.check_hostname());
  corio::verify_locations where;
  where.cadata = tls_files::get().ca.cert_pem();
  corio::ssl_context with_ca = corio::create_default_context(corio::ssl_purpose::server_auth, where);
  EXPECT_EQ(with_ca.cert_store_stats().x509_ca, 1u);
}

TEST(SSLContext, CreateDefaultContextForServers) {
  corio::ssl_context ctx = corio::create_default_context(corio::ssl_purpose::client_auth);
  EXPECT_EQ(ctx.protocol(), corio::ssl_protocol::tls_server);
  EXPECT_EQ(ctx.verify_mode(), corio::verify_mode::none);
  EXPECT_FALSE(ctx.check_hostname());
}

TEST(SSLContext, LoadCertChainFromFiles) {
  const tls_files& f = tls_files::get();
  corio::ssl_context ctx(corio::ssl_protocol::tls_server);
  EXPECT_NO_THROW(ctx.load_cert_chain(f.server_cert, f.server_key));
  corio::ssl_context combined(corio::ssl_protocol::tls_server);
  EXPECT_NO_THROW(combined.load_cert_chain(f.server_combined));  // key and certificate in one file
}

TEST(SSLContext, LoadCertChainErrorsNameTheFileAndTheReason) {
  tls_files& f = tls_files::get();
  corio::ssl_context ctx(corio::ssl_protocol::tls_server);
  try {
    ctx.load_cert_chain(f.dir + "/missing.pem");
    ADD_FAILURE() << "no error";
  } catch (const corio::file_not_found_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
  try {
    ctx.load_cert_chain(f.server_cert, f.client_key);  // another certificate's key
    ADD_FAILURE() << "no error";
  } catch (const corio::ssl_error& e) {
    EXPECT_NE(std::string(e.what()).find("key values mismatch"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("client.key"), std::string::npos) << e.what();
  }
  const std::string junk = f.write("junk.pem", "not a certificate\n");
  EXPECT_THROW(ctx.load_cert_chain(junk), corio::ssl_error);
  EXPECT_THROW(ctx.load_cert_chain(""), std::invalid_argument);
}

TEST(SSLContext, LoadCertChainWithAPassword) {
  tls_files& f = tls_files::get();
  const std::string key = f.write("locked.key", encrypted_key(f.server.private_key_pem(), "s3cret"));
  corio::ssl_context ctx(corio::ssl_protocol::tls_server);
  EXPECT_NO_THROW(ctx.load_cert_chain(f.server_cert, key, "s3cret"));
  corio::ssl_context wrong(corio::ssl_protocol::tls_server);
  EXPECT_THROW(wrong.load_cert_chain(f.server_cert, key, "guess"), corio::ssl_error);
}

TEST(SSLContext, LoadVerifyLocationsFromAFileADirectoryAndData) {
  tls_files& f = tls_files::get();
  corio::ssl_context from_file(corio::ssl_protocol::tls_client);
  from_file.load_verify_locations(f.ca_file);
  EXPECT_EQ(from_file.cert_store_stats().x509_ca, 1u);

  corio::ssl_context from_pem(corio::ssl_protocol::tls_client);
  corio::verify_locations both;
  both.cadata = f.ca.cert_pem() + f.unknown_ca.cert_pem();
  from_pem.load_verify_locations(both);
  EXPECT_EQ(from_pem.cert_store_stats().x509_ca, 2u);
  from_pem.load_verify_locations(both);  // again: no duplicate, no error
  EXPECT_EQ(from_pem.cert_store_stats().x509, 2u);

  corio::ssl_context designated(corio::ssl_protocol::tls_client);
  designated.load_verify_locations({.cadata = f.ca.cert_pem()});  // as docs/python-mapping.md shows it
  EXPECT_EQ(designated.cert_store_stats().x509_ca, 1u);

  corio::ssl_context from_der(corio::ssl_protocol::tls_client);
  corio::verify_locations der;
  der.cadata = der_of(f.ca.cert_pem());
  from_der.load_verify_locations(der);
  EXPECT_EQ(from_der.cert_store_stats().x509_ca, 1u);

  // A directory is read when a certificate is verified, not now (OpenSSL).
  corio::ssl_context from_dir(corio::ssl_protocol::tls_client);
  corio::verify_locations dir;
  dir.capath = f.dir;
  EXPECT_NO_THROW(from_dir.load_verify_locations(dir));
}

TEST(SSLContext, LoadVerifyLocationsErrors) {
  tls_files& f = tls_files::get();
  corio::ssl_context ctx(corio::ssl_protocol::tls_client);
  EXPECT_THROW(ctx.load_verify_locations(corio::verify_locations{}), std::invalid_argument);
  EXPECT_THROW(ctx.load_verify_locations(f.dir + "/missing.pem"), corio::file_not_found_error);
  corio::verify_locations junk;
  junk.cadata = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  EXPECT_THROW(ctx.load_verify_locations(junk), corio::ssl_error);
  junk.cadata = "no certificate here";
  try {
    ctx.load_verify_locations(junk);
    ADD_FAILURE() << "no error";
  } catch (const corio::ssl_error& e) {
    EXPECT_NE(std::string(e.what()).find("cadata"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ctx.cert_store_stats().x509, 0u);
}

TEST(SSLContext, SetDefaultVerifyPaths) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_client);
  EXPECT_NO_THROW(ctx.set_default_verify_paths());
}

TEST(SSLContext, CertStoreStatsCountsCasAndOthers) {
  const tls_files& f = tls_files::get();
  corio::ssl_context ctx(corio::ssl_protocol::tls_client);
  corio::verify_locations where;
  where.cadata = f.ca.cert_pem() + f.server.cert_pem();
  ctx.load_verify_locations(where);
  const corio::cert_stats st = ctx.cert_store_stats();
  EXPECT_EQ(st.x509, 2u);
  EXPECT_EQ(st.x509_ca, 1u);
  EXPECT_EQ(st.crl, 0u);
}

TEST(SSLContext, VerifyModeAndCheckHostnameAsPythonTiesThem) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_client);
  // Python: ValueError while check_hostname is on.
  EXPECT_THROW(ctx.set_verify_mode(corio::verify_mode::none), std::invalid_argument);
  ctx.set_check_hostname(false);
  ctx.set_verify_mode(corio::verify_mode::none);
  EXPECT_EQ(ctx.verify_mode(), corio::verify_mode::none);
  ctx.set_verify_mode(corio::verify_mode::optional);
  EXPECT_EQ(ctx.verify_mode(), corio::verify_mode::optional);
  ctx.set_verify_mode(corio::verify_mode::none);
  // Turning check_hostname on makes verification required.
  ctx.set_check_hostname(true);
  EXPECT_TRUE(ctx.check_hostname());
  EXPECT_EQ(ctx.verify_mode(), corio::verify_mode::required);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx.native_handle()), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

TEST(SSLContext, SetAlpnProtocols) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_client);
  EXPECT_NO_THROW(ctx.set_alpn_protocols({"h2", "http/1.1"}));
  EXPECT_NO_THROW(ctx.set_alpn_protocols({}));
  EXPECT_THROW(ctx.set_alpn_protocols({"h2", ""}), std::invalid_argument);
  EXPECT_THROW(ctx.set_alpn_protocols({std::string(256, 'x')}), std::invalid_argument);
}

TEST(SSLContext, MinimumAndMaximumVersion) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_client);
  ctx.set_minimum_version(corio::tls_version::tlsv1_3);
  EXPECT_EQ(ctx.minimum_version(), corio::tls_version::tlsv1_3);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.native_handle()), TLS1_3_VERSION);
  ctx.set_minimum_version(corio::tls_version::minimum_supported);
  EXPECT_EQ(ctx.minimum_version(), corio::tls_version::minimum_supported);
  ctx.set_maximum_version(corio::tls_version::tlsv1_2);
  EXPECT_EQ(ctx.maximum_version(), corio::tls_version::tlsv1_2);
  ctx.set_maximum_version(corio::tls_version::maximum_supported);
  EXPECT_EQ(ctx.maximum_version(), corio::tls_version::maximum_supported);
}

TEST(SSLContext, SetCiphers) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_server);
  EXPECT_NO_THROW(ctx.set_ciphers("ECDHE+AESGCM"));
  try {
    ctx.set_ciphers("NO-SUCH-CIPHER");
    ADD_FAILURE() << "no error";
  } catch (const corio::ssl_error& e) {
    EXPECT_EQ(e.reason(), "No cipher can be selected.");
    EXPECT_NE(std::string(e.what()).find("NO-SUCH-CIPHER"), std::string::npos) << e.what();
  }
}

TEST(SSLContext, CopiesShareOneContext) {
  corio::ssl_context a(corio::ssl_protocol::tls_client);
  corio::ssl_context b = a;
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.native_handle(), b.native_handle());
  b.set_check_hostname(false);
  EXPECT_FALSE(a.check_hostname());
  EXPECT_FALSE(a == corio::ssl_context(corio::ssl_protocol::tls_client));
}

TEST(SSLContext, NativeHandleIsTheOpenSslContext) {
  corio::ssl_context ctx(corio::ssl_protocol::tls_server);
  ASSERT_NE(ctx.native_handle(), nullptr);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_TICKET);
  EXPECT_NE(SSL_CTX_get_options(ctx.native_handle()) & SSL_OP_NO_TICKET, 0u);
}

TEST(SSLContext, ErrorsAreOsErrorsWithTheirParts) {
  const corio::ssl_error e(SSL_ERROR_SSL, "SSL", "wrong version number", "SSL handshake with 10.0.0.1:443");
  EXPECT_STREQ(e.what(), "SSL handshake with 10.0.0.1:443: [SSL] wrong version number");
  EXPECT_EQ(e.library(), "SSL");
  EXPECT_EQ(e.reason(), "wrong version number");
  EXPECT_EQ(e.code(), std::error_code(SSL_ERROR_SSL, corio::ssl_category()));
  EXPECT_EQ(e.error_number(), SSL_ERROR_SSL);
  const corio::os_error& base = e;  // Python: SSLError is an OSError
  EXPECT_STREQ(base.what(), e.what());
  const corio::ssl_certificate_verification_error v(62, "hostname mismatch, certificate is not valid for 'x'", "ctx");
  EXPECT_STREQ(v.what(), "ctx: [SSL] certificate verify failed: hostname mismatch, certificate is not valid for 'x'");
  EXPECT_EQ(v.verify_code(), 62);
  const corio::ssl_error copy = v;  // copies share the message: they never throw
  EXPECT_STREQ(copy.what(), v.what());
}

TEST(SSLContext, AnEmptySslObjectHandleThrows) {
  corio::ssl_object obj;
  EXPECT_FALSE(obj);
  EXPECT_EQ(obj.native_handle(), nullptr);
  EXPECT_THROW((void)obj.version(), std::invalid_argument);
}

}  // namespace
