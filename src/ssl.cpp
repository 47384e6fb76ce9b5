#include <corio/detail/ssl_state.hpp>
#include <corio/ssl.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstdio>
#include <stdexcept>

namespace corio {

namespace detail {

ssl_context_state::~ssl_context_state() { SSL_CTX_free(ctx); }

ssl_state::ssl_state(ssl_context c, bool server, std::string host)
    : context(std::move(c)), server_side(server), server_hostname(std::move(host)) {}

ssl_state::~ssl_state() { SSL_free(ssl); }

namespace {

// Python's names for OpenSSL's libraries (SSLError.library).
std::string library_name(unsigned long e) {
  switch (ERR_GET_LIB(e)) {
    case ERR_LIB_SSL: return "SSL";
    case ERR_LIB_X509: return "X509";
    case ERR_LIB_X509V3: return "X509V3";
    case ERR_LIB_PEM: return "PEM";
    case ERR_LIB_ASN1: return "ASN1";
    case ERR_LIB_EVP: return "EVP";
    case ERR_LIB_BIO: return "BIO";
    case ERR_LIB_SYS: return "SYS";
    default: {
      const char* s = ERR_lib_error_string(e);
      return s ? s : "OpenSSL";
    }
  }
}

std::string reason_text(unsigned long e) {
  if (const char* s = ERR_reason_error_string(e)) return s;
  return "error " + std::to_string(ERR_GET_REASON(e));
}

const char* ssl_errno_name(int ssl_errno) {
  switch (ssl_errno) {
    case SSL_ERROR_SSL: return "SSL_ERROR_SSL";
    case SSL_ERROR_WANT_READ: return "SSL_ERROR_WANT_READ";
    case SSL_ERROR_WANT_WRITE: return "SSL_ERROR_WANT_WRITE";
    case SSL_ERROR_WANT_X509_LOOKUP: return "SSL_ERROR_WANT_X509_LOOKUP";
    case SSL_ERROR_SYSCALL: return "SSL_ERROR_SYSCALL";
    case SSL_ERROR_ZERO_RETURN: return "SSL_ERROR_ZERO_RETURN";
    case SSL_ERROR_WANT_CONNECT: return "SSL_ERROR_WANT_CONNECT";
    default: return "SSL error";
  }
}

// The verification message Python gives (it words the two mismatches itself).
std::string verify_message(long code, const ssl_state* st) {
  const std::string host = st ? st->server_hostname : std::string();
  if (code == X509_V_ERR_HOSTNAME_MISMATCH) return "hostname mismatch, certificate is not valid for '" + host + "'";
  if (code == X509_V_ERR_IP_ADDRESS_MISMATCH) return "IP address mismatch, certificate is not valid for '" + host + "'";
  return X509_verify_cert_error_string(code);
}

class ssl_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ssl"; }
  std::string message(int ev) const override { return ssl_errno_name(ev); }
};

}  // namespace

namespace {

std::exception_ptr error_from(unsigned long e, int ssl_errno, const std::string& context, const ssl_state* st) {
  if (e == 0) {
    const char* why = ssl_errno == SSL_ERROR_SYSCALL ? "unexpected EOF" : ssl_errno_name(ssl_errno);
    return std::make_exception_ptr(ssl_error(ssl_errno, "SSL", why, context));
  }
  if (st && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long code = SSL_get_verify_result(st->ssl);
    return std::make_exception_ptr(ssl_certificate_verification_error(code, verify_message(code, st), context));
  }
  return std::make_exception_ptr(ssl_error(ssl_errno, library_name(e), reason_text(e), context));
}

}  // namespace

std::exception_ptr make_ssl_error(int ssl_errno, const std::string& context, const ssl_state* st) {
  // Python reports the last error of the queue: the most specific one.
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  return error_from(e, ssl_errno, context, st);
}

namespace {

// After an OpenSSL call on a context failed: the os_error of a file that
// could not be opened (OpenSSL queues its errno), else ssl_error.
[[noreturn]] void throw_ssl_error(const std::string& context) {
  int sys_errno = 0;
  unsigned long last = 0;
  while (const unsigned long e = ERR_get_error()) {
    if (ERR_GET_LIB(e) == ERR_LIB_SYS && sys_errno == 0) sys_errno = ERR_GET_REASON(e);
    last = e;
  }
  if (sys_errno != 0) throw_os_error(sys_errno, context);
  std::rethrow_exception(error_from(last, SSL_ERROR_SSL, context, nullptr));
}

int verify_flags(verify_mode m) {
  switch (m) {
    case verify_mode::none: return SSL_VERIFY_NONE;
    case verify_mode::optional: return SSL_VERIFY_PEER;
    case verify_mode::required: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  return SSL_VERIFY_NONE;
}

int version_number(tls_version v) {
  switch (v) {
    case tls_version::tlsv1: return TLS1_VERSION;
    case tls_version::tlsv1_1: return TLS1_1_VERSION;
    case tls_version::tlsv1_2: return TLS1_2_VERSION;
    case tls_version::tlsv1_3: return TLS1_3_VERSION;
    default: return 0;  // OpenSSL: the lowest or highest it supports
  }
}

tls_version version_of(int n, tls_version unbounded) {
  switch (n) {
    case TLS1_VERSION: return tls_version::tlsv1;
    case TLS1_1_VERSION: return tls_version::tlsv1_1;
    case TLS1_2_VERSION: return tls_version::tlsv1_2;
    case TLS1_3_VERSION: return tls_version::tlsv1_3;
    default: return unbounded;
  }
}

// A server's ALPN choice: its own first protocol that the client offers
// (Python's _selectALPN_cb); no choice rather than a failed handshake.
int select_alpn(::SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
  const auto* st = static_cast<const ssl_context_state*>(arg);
  if (st->alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* chosen = nullptr;
  const auto* ours = reinterpret_cast<const unsigned char*>(st->alpn.data());
  if (SSL_select_next_proto(&chosen, outlen, ours, static_cast<unsigned>(st->alpn.size()), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

int password_cb(char* buf, int size, int, void* userdata) {
  const auto* pw = static_cast<const std::string*>(userdata);
  if (!pw || pw->size() > static_cast<std::size_t>(size)) return -1;
  pw->copy(buf, pw->size());
  return static_cast<int>(pw->size());
}

// Adds the certificates of PEM text or DER bytes to the store; how many.
std::size_t add_cadata(::X509_STORE* store, const std::string& data) {
  const bool pem = data.find("-----BEGIN") != std::string::npos;
  ::BIO* b = BIO_new_mem_buf(data.data(), static_cast<int>(data.size()));
  if (!b) throw_ssl_error("load_verify_locations(cadata)");
  std::size_t n = 0;
  for (;;) {
    ::X509* x = pem ? PEM_read_bio_X509(b, nullptr, nullptr, nullptr) : d2i_X509_bio(b, nullptr);
    if (!x) break;
    const int ok = X509_STORE_add_cert(store, x);
    X509_free(x);
    if (!ok) {
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) != ERR_LIB_X509 || ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        BIO_free(b);
        throw_ssl_error("load_verify_locations(cadata)");
      }
    }
    ERR_clear_error();
    ++n;
  }
  BIO_free(b);
  if (n == 0) throw ssl_error(SSL_ERROR_SSL, "X509", "no certificate or crl found", "load_verify_locations(cadata)");
  ERR_clear_error();  // the read that found the end
  return n;
}

}  // namespace

}  // namespace detail

// -- errors ----------------------------------------------------------------------------

const std::error_category& ssl_category() noexcept {
  static const detail::ssl_category_impl c;
  return c;
}

ssl_error::ssl_error(int ssl_errno, std::string library, std::string reason, const std::string& context)
    : ssl_error(ssl_errno, std::move(library), std::move(reason), context, 0, {}) {}

ssl_error::ssl_error(int ssl_errno, std::string library, std::string reason, const std::string& context,
                     long verify_code, std::string verify_message)
    : os_error(std::error_code(ssl_errno, ssl_category()), context) {
  auto d = std::make_shared<data>();
  d->what = context + ": [" + library + "] " + reason;
  if (!verify_message.empty()) d->what += ": " + verify_message;
  d->library = std::move(library);
  d->reason = std::move(reason);
  d->verify_code = verify_code;
  d->verify_message = std::move(verify_message);
  d_ = std::move(d);
}

ssl_certificate_verification_error::ssl_certificate_verification_error(long verify_code, std::string message,
                                                                       const std::string& context)
    : ssl_error(SSL_ERROR_SSL, "SSL", "certificate verify failed", context, verify_code, std::move(message)) {}

// -- ssl_context -----------------------------------------------------------------------

ssl_context::ssl_context(ssl_protocol protocol) : s_(std::make_shared<detail::ssl_context_state>()) {
  s_->protocol = protocol;
  const bool client = protocol == ssl_protocol::tls_client;
  s_->ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
  if (!s_->ctx) detail::throw_ssl_error("SSLContext()");
  ::SSL_CTX* c = s_->ctx;
  // Python's defaults (Modules/_ssl.c, 3.10 and later).
  SSL_CTX_set_options(c, (SSL_OP_ALL & ~SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS) | SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE);
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  // An idle connection gives its record buffers back.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(c), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(c), X509_V_FLAG_TRUSTED_FIRST);
  if (client) {
    s_->check_hostname = true;
    SSL_CTX_set_verify(c, detail::verify_flags(verify_mode::required), nullptr);
  } else {
    static const unsigned char id[] = "corio";
    SSL_CTX_set_session_id_context(c, id, sizeof id - 1);  // resumption with client certificates
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }
}

ssl_protocol ssl_context::protocol() const noexcept { return s_->protocol; }

::ssl_ctx_st* ssl_context::native_handle() const noexcept { return s_->ctx; }

void ssl_context::load_cert_chain(const std::string& certfile, const std::string& keyfile,
                                  const std::string& password) {
  if (certfile.empty()) throw std::invalid_argument("load_cert_chain: certfile should be a valid filesystem path");
  ::SSL_CTX* c = s_->ctx;
  const std::string& key = keyfile.empty() ? certfile : keyfile;
  // The password callback is set for this call only, as Python does.
  SSL_CTX_set_default_passwd_cb(c, &detail::password_cb);
  SSL_CTX_set_default_passwd_cb_userdata(c, const_cast<std::string*>(&password));
  struct reset {
    ::SSL_CTX* c;
    ~reset() {
      SSL_CTX_set_default_passwd_cb(c, nullptr);
      SSL_CTX_set_default_passwd_cb_userdata(c, nullptr);
    }
  } r{c};
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(c, certfile.c_str()) != 1)
    detail::throw_ssl_error("load_cert_chain: certificate " + certfile);
  if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1)
    detail::throw_ssl_error("load_cert_chain: private key " + key);
  if (SSL_CTX_check_private_key(c) != 1)
    detail::throw_ssl_error("load_cert_chain: private key " + key + " for certificate " + certfile);
}

void ssl_context::load_verify_locations(const verify_locations& where) {
  if (where.cafile.empty() && where.capath.empty() && where.cadata.empty())
    throw std::invalid_argument("load_verify_locations: cafile, capath and cadata cannot be all omitted");
  ERR_clear_error();
  if (!where.cadata.empty()) detail::add_cadata(SSL_CTX_get_cert_store(s_->ctx), where.cadata);
  if (where.cafile.empty() && where.capath.empty()) return;
  const char* file = where.cafile.empty() ? nullptr : where.cafile.c_str();
  const char* path = where.capath.empty() ? nullptr : where.capath.c_str();
  if (SSL_CTX_load_verify_locations(s_->ctx, file, path) != 1)
    detail::throw_ssl_error("load_verify_locations(" + (file ? where.cafile : where.capath) + ")");
}

void ssl_context::set_default_verify_paths() {
  ERR_clear_error();
  if (SSL_CTX_set_default_verify_paths(s_->ctx) != 1) detail::throw_ssl_error("set_default_verify_paths");
}

cert_stats ssl_context::cert_store_stats() const {
  cert_stats st;
  ::X509_STORE* store = SSL_CTX_get_cert_store(s_->ctx);
  X509_STORE_lock(store);
  STACK_OF(X509_OBJECT)* objs = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objs); ++i) {
    ::X509_OBJECT* o = sk_X509_OBJECT_value(objs, i);
    if (X509_OBJECT_get_type(o) == X509_LU_X509) {
      ++st.x509;
      if (X509_check_ca(X509_OBJECT_get0_X509(o))) ++st.x509_ca;
    } else if (X509_OBJECT_get_type(o) == X509_LU_CRL) {
      ++st.crl;
    }
  }
  X509_STORE_unlock(store);
  return st;
}

verify_mode ssl_context::verify_mode() const {
  // As Python reads it back: the flags that matter, whatever set them.
  switch (SSL_CTX_get_verify_mode(s_->ctx) & (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT)) {
    case SSL_VERIFY_PEER: return verify_mode::optional;
    case SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT: return verify_mode::required;
    default: return verify_mode::none;
  }
}

void ssl_context::set_verify_mode(corio::verify_mode mode) {
  if (mode == verify_mode::none && s_->check_hostname)
    throw std::invalid_argument("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
  SSL_CTX_set_verify(s_->ctx, detail::verify_flags(mode), nullptr);
}

bool ssl_context::check_hostname() const noexcept { return s_->check_hostname; }

void ssl_context::set_check_hostname(bool on) {
  if (on && verify_mode() == verify_mode::none) set_verify_mode(verify_mode::required);
  s_->check_hostname = on;
}

void ssl_context::set_alpn_protocols(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255)
      throw std::invalid_argument("set_alpn_protocols: a protocol name must have 1 to 255 bytes, not " +
                                  std::to_string(p.size()));
    wire += static_cast<char>(p.size());
    wire += p;
  }
  // OpenSSL returns 0 on success here.
  if (SSL_CTX_set_alpn_protos(s_->ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned>(wire.size())) != 0)
    detail::throw_ssl_error("set_alpn_protocols");
  s_->alpn = std::move(wire);
  SSL_CTX_set_alpn_select_cb(s_->ctx, &detail::select_alpn, s_.get());
}

tls_version ssl_context::minimum_version() const {
  return detail::version_of(static_cast<int>(SSL_CTX_get_min_proto_version(s_->ctx)), tls_version::minimum_supported);
}

void ssl_context::set_minimum_version(tls_version v) {
  if (v == tls_version::maximum_supported) v = tls_version::tlsv1_3;  // Python: the highest there is
  if (SSL_CTX_set_min_proto_version(s_->ctx, detail::version_number(v)) != 1)
    detail::throw_ssl_error("set_minimum_version");
}

tls_version ssl_context::maximum_version() const {
  return detail::version_of(static_cast<int>(SSL_CTX_get_max_proto_version(s_->ctx)), tls_version::maximum_supported);
}

void ssl_context::set_maximum_version(tls_version v) {
  if (v == tls_version::minimum_supported) v = tls_version::tlsv1;  // Python: the lowest there is
  if (SSL_CTX_set_max_proto_version(s_->ctx, detail::version_number(v)) != 1)
    detail::throw_ssl_error("set_maximum_version");
}

void ssl_context::set_ciphers(const std::string& spec) {
  ERR_clear_error();
  if (SSL_CTX_set_cipher_list(s_->ctx, spec.c_str()) != 1) {
    ERR_clear_error();
    throw ssl_error(SSL_ERROR_SSL, "SSL", "No cipher can be selected.", "set_ciphers(" + spec + ")");
  }
}

ssl_context create_default_context(ssl_purpose purpose) { return create_default_context(purpose, {}); }

ssl_context create_default_context(ssl_purpose purpose, const verify_locations& where) {
  ssl_context ctx(purpose == ssl_purpose::server_auth ? ssl_protocol::tls_client : ssl_protocol::tls_server);
  if (!where.cafile.empty() || !where.capath.empty() || !where.cadata.empty())
    ctx.load_verify_locations(where);
  else if (ctx.verify_mode() != verify_mode::none)
    ctx.set_default_verify_paths();  // Python: load_default_certs
  return ctx;
}

// -- ssl_object ------------------------------------------------------------------------

namespace {

std::string utf8_of(const ::ASN1_STRING* a) {
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, a);
  if (n < 0) return {};
  std::string s(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return s;
}

peer_certificate::pairs name_pairs(const ::X509_NAME* name) {
  peer_certificate::pairs out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const ::X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const ::ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(e);
    const int nid = OBJ_obj2nid(obj);
    std::string key;
    if (nid != NID_undef) {
      key = OBJ_nid2ln(nid);
    } else {
      char buf[128];
      OBJ_obj2txt(buf, sizeof buf, obj, 1);
      key = buf;
    }
    out.emplace_back(std::move(key), utf8_of(X509_NAME_ENTRY_get_data(e)));
  }
  return out;
}

std::string time_text(const ::ASN1_TIME* t) {
  ::BIO* b = BIO_new(BIO_s_mem());
  if (!b) return {};
  std::string s;
  if (ASN1_TIME_print(b, t) == 1) {
    char* p = nullptr;
    const long n = BIO_get_mem_data(b, &p);
    s.assign(p, static_cast<std::size_t>(n));
  }
  BIO_free(b);
  return s;
}

// Python's spelling of an IP address in subjectAltName (IPv6: eight
// upper-case groups, no "::").
std::string ip_text(const ::ASN1_OCTET_STRING* ip) {
  const unsigned char* p = ASN1_STRING_get0_data(ip);
  const int n = ASN1_STRING_length(ip);
  char buf[64];
  if (n == 4) {
    std::snprintf(buf, sizeof buf, "%d.%d.%d.%d", p[0], p[1], p[2], p[3]);
    return buf;
  }
  if (n == 16) {
    std::string s;
    for (int i = 0; i < 16; i += 2) {
      std::snprintf(buf, sizeof buf, "%s%X", i ? ":" : "", (p[i] << 8) | p[i + 1]);
      s += buf;
    }
    return s;
  }
  return "<invalid>";
}

peer_certificate::pairs alt_names(const ::X509* x) {
  peer_certificate::pairs out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const ::GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    switch (g->type) {
      case GEN_DNS: out.emplace_back("DNS", utf8_of(g->d.dNSName)); break;
      case GEN_IPADD: out.emplace_back("IP Address", ip_text(g->d.iPAddress)); break;
      case GEN_EMAIL: out.emplace_back("email", utf8_of(g->d.rfc822Name)); break;
      case GEN_URI: out.emplace_back("URI", utf8_of(g->d.uniformResourceIdentifier)); break;
      default: out.emplace_back("othername", "<unsupported>"); break;
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

const detail::ssl_state& ssl_object::st() const {
  if (!s_) throw std::invalid_argument("corio: ssl_object: an empty handle");
  return *s_;
}

bool ssl_object::server_side() const { return st().server_side; }
const std::string& ssl_object::server_hostname() const { return st().server_hostname; }
ssl_context ssl_object::context() const { return st().context; }
::ssl_st* ssl_object::native_handle() const noexcept { return s_ ? s_->ssl : nullptr; }

std::string ssl_object::version() const {
  ::SSL* ssl = st().ssl;
  return SSL_is_init_finished(ssl) ? SSL_get_version(ssl) : "";
}

std::optional<ssl_cipher> ssl_object::cipher() const {
  const ::SSL_CIPHER* c = SSL_get_current_cipher(st().ssl);
  if (!c) return std::nullopt;
  return ssl_cipher{SSL_CIPHER_get_name(c), SSL_CIPHER_get_version(c), SSL_CIPHER_get_bits(c, nullptr)};
}

std::string ssl_object::selected_alpn_protocol() const {
  const unsigned char* p = nullptr;
  unsigned n = 0;
  SSL_get0_alpn_selected(st().ssl, &p, &n);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

peer_certificate ssl_object::getpeercert() const {
  ::SSL* ssl = st().ssl;
  const ::X509* x = SSL_get0_peer_certificate(ssl);
  // Python: {} for a certificate nobody verified.
  if (!x || (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0) return {};
  peer_certificate c;
  c.subject = name_pairs(X509_get_subject_name(x));
  c.issuer = name_pairs(X509_get_issuer_name(x));
  c.version = static_cast<int>(X509_get_version(x)) + 1;
  if (::BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      c.serial_number = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  c.not_before = time_text(X509_get0_notBefore(x));
  c.not_after = time_text(X509_get0_notAfter(x));
  c.subject_alt_name = alt_names(x);
  return c;
}

std::string ssl_object::getpeercert_der() const {
  const ::X509* x = SSL_get0_peer_certificate(st().ssl);
  if (!x) return {};
  unsigned char* der = nullptr;
  const int n = i2d_X509(x, &der);
  if (n < 0) return {};
  std::string s(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return s;
}

}  // namespace corio
