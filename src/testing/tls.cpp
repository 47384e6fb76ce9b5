#include <corio/testing/tls.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <ctime>
#include <memory>
#include <stdexcept>

namespace corio::testing {

namespace {

struct free_key {
  void operator()(::EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct free_cert {
  void operator()(::X509* x) const noexcept { X509_free(x); }
};
struct free_bio {
  void operator()(::BIO* b) const noexcept { BIO_free(b); }
};
using key_ptr = std::unique_ptr<::EVP_PKEY, free_key>;
using cert_ptr = std::unique_ptr<::X509, free_cert>;
using bio_ptr = std::unique_ptr<::BIO, free_bio>;

[[noreturn]] void fail(const char* what) {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  ERR_clear_error();
  throw std::runtime_error(std::string("corio::testing: ") + what + ": " + buf);
}

template <class T>
T check(T v, const char* what) {
  if (!v) fail(what);
  return v;
}

bio_ptr memory_bio(const std::string& s) {
  return bio_ptr(check(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())), "BIO_new_mem_buf"));
}

key_ptr read_key(const std::string& pem) {
  return key_ptr(check(PEM_read_bio_PrivateKey(memory_bio(pem).get(), nullptr, nullptr, nullptr), "read key"));
}

cert_ptr read_cert(const std::string& pem) {
  return cert_ptr(check(PEM_read_bio_X509(memory_bio(pem).get(), nullptr, nullptr, nullptr), "read certificate"));
}

std::string bio_text(::BIO* b) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  return std::string(p, static_cast<std::size_t>(n));
}

std::string pem_of(::X509* x) {
  bio_ptr b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509(b.get(), x), "write certificate");
  return bio_text(b.get());
}

std::string pem_of(::EVP_PKEY* k) {
  bio_ptr b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr), "write key");
  return bio_text(b.get());
}

void add_ext(::X509* x, ::X509V3_CTX* ctx, int nid, const std::string& value) {
  ::X509_EXTENSION* e = check(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()), "X509V3_EXT_conf_nid");
  const int ok = X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  check(ok, "X509_add_ext");
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

struct cert_spec {
  std::string common_name;
  std::vector<std::string> identities;  // none: a CA
  std::time_t not_before;
  std::time_t not_after;
};

// A certificate for `key`, signed by `issuer` (null: self-signed).
cert_ptr make_cert(::EVP_PKEY* key, const cert_spec& spec, ::X509* issuer, ::EVP_PKEY* issuer_key) {
  cert_ptr x(check(X509_new(), "X509_new"));
  const bool ca = spec.identities.empty();
  check(X509_set_version(x.get(), 2), "X509_set_version");
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial), "RAND_bytes");
  serial[0] &= 0x7f;  // positive
  ::BIGNUM* bn = check(BN_bin2bn(serial, sizeof serial, nullptr), "BN_bin2bn");
  const bool set = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get())) != nullptr;
  BN_free(bn);
  check(set, "serial number");
  ::X509_NAME* name = X509_get_subject_name(x.get());
  const char* org = ca ? "corio testing CA" : "corio testing";
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(org), -1, -1, 0),
        "subject");
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0),
        "subject");
  check(X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name), "issuer");
  check(ASN1_TIME_set(X509_getm_notBefore(x.get()), spec.not_before), "notBefore");
  check(ASN1_TIME_set(X509_getm_notAfter(x.get()), spec.not_after), "notAfter");
  check(X509_set_pubkey(x.get(), key), "X509_set_pubkey");
  ::X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  // What strict verifiers (Python 3.13's VERIFY_X509_STRICT) ask for.
  add_ext(x.get(), &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x.get(), &v3, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x.get(), &v3, NID_subject_key_identifier, "hash");
  if (issuer) {
    add_ext(x.get(), &v3, NID_authority_key_identifier, "keyid:always");
    add_ext(x.get(), &v3, NID_ext_key_usage, "serverAuth,clientAuth");
    std::string alt;
    for (const std::string& id : spec.identities) {
      if (!alt.empty()) alt += ',';
      alt += (is_ip(id) ? "IP:" : "DNS:") + id;
    }
    add_ext(x.get(), &v3, NID_subject_alt_name, alt);
  }
  check(X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return x;
}

std::time_t seconds_of(std::chrono::system_clock::time_point t) { return std::chrono::system_clock::to_time_t(t); }

}  // namespace

certificate_authority::certificate_authority() {
  key_ptr key(check(EVP_EC_gen("P-256"), "EC key"));
  const std::time_t now = std::time(nullptr);
  cert_spec spec{"corio testing CA", {}, now - 86400, now + 10 * 365 * 86400L};
  cert_ptr cert = make_cert(key.get(), spec, nullptr, nullptr);
  cert_ = pem_of(cert.get());
  key_ = pem_of(key.get());
}

issued_cert certificate_authority::issue_cert(const std::vector<std::string>& identities,
                                              const cert_options& opts) const {
  if (identities.empty()) throw std::invalid_argument("corio::testing: issue_cert needs at least one identity");
  key_ptr ca_key = read_key(key_);
  cert_ptr ca_cert = read_cert(cert_);
  key_ptr key(check(EVP_EC_gen("P-256"), "EC key"));
  const std::time_t now = std::time(nullptr);
  cert_spec spec{opts.common_name.empty() ? identities.front() : opts.common_name, identities,
                 opts.not_before ? seconds_of(*opts.not_before) : now - 86400,
                 opts.not_after ? seconds_of(*opts.not_after) : now + 10 * 365 * 86400L};
  cert_ptr cert = make_cert(key.get(), spec, ca_cert.get(), ca_key.get());
  return issued_cert(pem_of(cert.get()), pem_of(key.get()));
}

void certificate_authority::configure_trust(ssl_context& ctx) const {
  verify_locations where;
  where.cadata = cert_;
  ctx.load_verify_locations(where);
}

void issued_cert::configure_cert(ssl_context& ctx) const {
  ::SSL_CTX* c = ctx.native_handle();
  cert_ptr cert = read_cert(cert_);
  key_ptr key = read_key(key_);
  check(SSL_CTX_use_certificate(c, cert.get()), "SSL_CTX_use_certificate");
  check(SSL_CTX_use_PrivateKey(c, key.get()), "SSL_CTX_use_PrivateKey");
  check(SSL_CTX_check_private_key(c), "SSL_CTX_check_private_key");
}

}  // namespace corio::testing
