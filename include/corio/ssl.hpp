// Python: the ssl module, as much of it as asyncio programs use: SSLContext
// (corio::ssl_context) and create_default_context, the SSLObject of a TLS
// connection (stream_writer::get_extra_info("ssl_object")), SSLError and
// SSLCertVerificationError. Built on OpenSSL 3; the TLS layer itself is
// detail/tls_layer.hpp, and streams.hpp takes the `ssl` arguments.
//
// No OpenSSL header is included here: native_handle() returns OpenSSL's
// own SSL_CTX* / SSL*, for what this API does not cover.
#pragma once

#include <corio/os_errors.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

namespace corio {

namespace detail {
struct ssl_context_state;
struct ssl_state;
}  // namespace detail

/// Python: ssl.VerifyMode (ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED).
enum class verify_mode { none, optional, required };

/// Python: ssl.TLSVersion.
enum class tls_version { minimum_supported, tlsv1, tlsv1_1, tlsv1_2, tlsv1_3, maximum_supported };

/// Python: ssl.PROTOCOL_TLS_CLIENT and ssl.PROTOCOL_TLS_SERVER.
enum class ssl_protocol { tls_client, tls_server };

/// Python: ssl.Purpose.SERVER_AUTH (a context for clients, which
/// authenticate servers) and ssl.Purpose.CLIENT_AUTH (one for servers).
enum class ssl_purpose { server_auth, client_auth };

/// Python: the cafile, capath and cadata arguments of
/// SSLContext.load_verify_locations; at least one must be given.
struct verify_locations {
  std::string cafile{};  ///< a file of PEM certificates
  std::string capath{};  ///< a directory in OpenSSL's c_rehash layout
  std::string cadata{};  ///< PEM text, or DER bytes, of one or more certificates
};

/// Python: the dict of SSLContext.cert_store_stats().
struct cert_stats {
  std::size_t x509 = 0;     ///< certificates
  std::size_t crl = 0;      ///< revocation lists
  std::size_t x509_ca = 0;  ///< certificates of CAs
};

/// Python: the tuple of SSLObject.cipher(): (name, protocol, secret bits).
struct ssl_cipher {
  std::string name;      ///< "TLS_AES_256_GCM_SHA384"
  std::string protocol;  ///< "TLSv1.3"
  int secret_bits = 0;
};

/// Python: the dict of SSLObject.getpeercert(). Names are OpenSSL's long
/// names, as Python gives them ("commonName", "organizationName"); each
/// relative distinguished name is one (name, value) pair, in order.
struct peer_certificate {
  using pairs = std::vector<std::pair<std::string, std::string>>;
  pairs subject;
  pairs issuer;
  int version = 0;            ///< 3 for X.509 v3
  std::string serial_number;  ///< upper-case hex
  std::string not_before;     ///< "Jun  1 12:00:00 2024 GMT"
  std::string not_after;
  pairs subject_alt_name;  ///< ("DNS", "localhost"), ("IP Address", "127.0.0.1")
  /// No certificate, or one that was not verified (Python: {}).
  bool empty() const noexcept { return subject.empty() && issuer.empty() && serial_number.empty(); }
};

/// The error category of ssl_error's code(): OpenSSL's SSL_ERROR_* values
/// (Python: SSLError.errno; ssl.SSL_ERROR_SSL is 1).
const std::error_category& ssl_category() noexcept;

/// Python: ssl.SSLError. what() is "<context>: [<library>] <reason>", the
/// context naming the operation and the peer, the rest taken from OpenSSL's
/// error queue, e.g. "SSL handshake with 127.0.0.1:8443: [SSL] wrong version
/// number". code() is {SSL_ERROR_*, ssl_category()}.
class ssl_error : public os_error {
 public:
  ssl_error(int ssl_errno, std::string library, std::string reason, const std::string& context);
  const char* what() const noexcept override { return d_->what.c_str(); }
  /// Python: SSLError.library: "SSL", "X509", "PEM", ...
  const std::string& library() const noexcept { return d_->library; }
  /// Python: SSLError.reason. OpenSSL's text for the error ("certificate
  /// verify failed"), where Python gives its mnemonic.
  const std::string& reason() const noexcept { return d_->reason; }

 protected:
  ssl_error(int ssl_errno, std::string library, std::string reason, const std::string& context, long verify_code,
            std::string verify_message);
  struct data {
    std::string library, reason, what;
    long verify_code = 0;
    std::string verify_message;
  };
  // Shared, so that copying the exception never throws.
  std::shared_ptr<const data> d_;
};

/// Python: ssl.SSLCertVerificationError: the peer's certificate failed
/// verification. what() ends with the verification message: "[SSL]
/// certificate verify failed: self-signed certificate", "... certificate
/// has expired", "... hostname mismatch, certificate is not valid for
/// 'example.com'".
class ssl_certificate_verification_error : public ssl_error {
 public:
  ssl_certificate_verification_error(long verify_code, std::string verify_message, const std::string& context);
  /// Python: verify_code: OpenSSL's X509_V_ERR_* value.
  long verify_code() const noexcept { return d_->verify_code; }
  /// Python: verify_message.
  const std::string& verify_message() const noexcept { return d_->verify_message; }
};

/// Python: ssl.SSLContext. A cheap handle: copies share one context (and
/// one OpenSSL SSL_CTX), so a change made through any copy applies to the
/// connections made with it afterwards, as in Python. Loops on several
/// threads may make connections with one context, as long as none changes
/// it meanwhile. Errors raise ssl_error naming the file or argument and
/// OpenSSL's reason; a file that cannot be opened raises the os_error of
/// its errno.
class ssl_context {
 public:
  /// Python: SSLContext(PROTOCOL_TLS_CLIENT): verify_mode required and
  /// check_hostname on, but no CA loaded (see create_default_context); or
  /// SSLContext(PROTOCOL_TLS_SERVER): verify_mode none. Both refuse
  /// versions before TLS 1.2, as Python's do.
  explicit ssl_context(ssl_protocol protocol);

  /// Python: SSLContext.protocol.
  ssl_protocol protocol() const noexcept;

  /// Python: load_cert_chain(certfile, keyfile=None, password=None). The
  /// certificate (and its chain) this side presents; the key is read from
  /// certfile when keyfile is empty. std::invalid_argument for an empty
  /// certfile; ssl_error if the key does not match the certificate.
  void load_cert_chain(const std::string& certfile, const std::string& keyfile = {},
                       const std::string& password = {});
  /// Python: load_verify_locations(cafile, capath, cadata): the CAs the
  /// peer's certificate is verified against. std::invalid_argument if all
  /// three are empty; ssl_error if cadata holds no certificate.
  void load_verify_locations(const verify_locations& where);
  /// Python: load_verify_locations(cafile). (A template, so that a braced
  /// `{.cadata = pem}` picks the overload above.)
  template <class S>
    requires std::convertible_to<const S&, std::string>
  void load_verify_locations(const S& cafile) {
    load_verify_locations(verify_locations{std::string(cafile), {}, {}});
  }
  /// Python: set_default_verify_paths(): the system's CAs, as OpenSSL was
  /// built to find them (SSL_CERT_FILE and SSL_CERT_DIR override).
  void set_default_verify_paths();
  /// Python: cert_store_stats().
  cert_stats cert_store_stats() const;

  /// Python: SSLContext.verify_mode. Client side, optional and required
  /// both verify the server; server side, optional asks for a client
  /// certificate and required insists on one.
  corio::verify_mode verify_mode() const;
  /// std::invalid_argument for verify_mode::none while check_hostname is on
  /// (Python: ValueError).
  void set_verify_mode(corio::verify_mode mode);
  /// Python: SSLContext.check_hostname: the server's certificate must name
  /// the server_hostname of the connection (a DNS name or an IP address).
  bool check_hostname() const noexcept;
  /// Turning it on also makes verify_mode required if it was none, as in Python.
  void set_check_hostname(bool on);

  /// Python: set_alpn_protocols(protocols): offered by a client, chosen
  /// from by a server (the server's order of preference wins).
  /// std::invalid_argument for an empty or over-long (255 bytes) name.
  void set_alpn_protocols(const std::vector<std::string>& protocols);
  /// Python: SSLContext.minimum_version / maximum_version.
  tls_version minimum_version() const;
  void set_minimum_version(tls_version v);
  tls_version maximum_version() const;
  void set_maximum_version(tls_version v);
  /// Python: set_ciphers(spec), in OpenSSL's cipher list format (TLS 1.2
  /// and older; TLS 1.3 suites are not affected). ssl_error if nothing matches.
  void set_ciphers(const std::string& spec);

  /// OpenSSL's SSL_CTX, for settings this class does not cover.
  ::ssl_ctx_st* native_handle() const noexcept;
  /// Copies of one context compare equal.
  friend bool operator==(const ssl_context& a, const ssl_context& b) noexcept { return a.s_ == b.s_; }

  // For the TLS layer: the shared state.
  const std::shared_ptr<detail::ssl_context_state>& state() const noexcept { return s_; }

 private:
  std::shared_ptr<detail::ssl_context_state> s_;
};

/// Python: ssl.create_default_context(purpose, cafile, capath, cadata).
/// For server_auth (clients): verify_mode required, check_hostname on, and
/// the CAs in `where`, or the system's if `where` is empty. For
/// client_auth (servers): a server context that verifies no client.
ssl_context create_default_context(ssl_purpose purpose = ssl_purpose::server_auth);
ssl_context create_default_context(ssl_purpose purpose, const verify_locations& where);

/// Python: ssl.SSLObject: the TLS state of one connection, as
/// get_extra_info("ssl_object") returns it. A handle: it stays valid (and
/// keeps answering) after the connection is closed. Loop thread only, like
/// the connection.
class ssl_object {
 public:
  ssl_object() noexcept = default;
  explicit ssl_object(std::shared_ptr<detail::ssl_state> s) noexcept : s_(std::move(s)) {}

  /// Python: SSLObject.server_side.
  bool server_side() const;
  /// Python: SSLObject.server_hostname: the name a client asked for ("" on
  /// a server, where Python gives None).
  const std::string& server_hostname() const;
  /// Python: SSLObject.context.
  ssl_context context() const;
  /// Python: SSLObject.version(): "TLSv1.3", "TLSv1.2"; "" before the handshake.
  std::string version() const;
  /// Python: SSLObject.cipher(); nullopt before the handshake.
  std::optional<ssl_cipher> cipher() const;
  /// Python: SSLObject.selected_alpn_protocol(); "" if none was agreed.
  std::string selected_alpn_protocol() const;
  /// Python: SSLObject.getpeercert(): empty when the peer sent no
  /// certificate or it was not verified (verify_mode none).
  peer_certificate getpeercert() const;
  /// Python: SSLObject.getpeercert(binary_form=True): the DER bytes, or "".
  std::string getpeercert_der() const;
  /// OpenSSL's SSL of the connection.
  ::ssl_st* native_handle() const noexcept;
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  const detail::ssl_state& st() const;
  std::shared_ptr<detail::ssl_state> s_;
};

}  // namespace corio
