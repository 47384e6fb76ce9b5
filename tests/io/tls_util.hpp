// Helpers for the TLS tests: the certificates they need, made at run time
// by a throwaway CA (corio::testing::certificate_authority, on OpenSSL's C
// API) and written to a temporary directory for the file-based calls
// (load_cert_chain, load_verify_locations); contexts built from them; and
// a count of open fds for the tests of leaks.
#pragma once

#include <corio/ssl.hpp>
#include <corio/streams.hpp>
#include <corio/testing/tls.hpp>

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace corio_test {

// Everything a TLS test may present or trust, made once per test program.
struct tls_files {
  corio::testing::certificate_authority ca;
  corio::testing::certificate_authority unknown_ca;  // trusted by nobody
  corio::testing::issued_cert server = ca.issue_cert({"localhost", "127.0.0.1", "::1"});
  corio::testing::issued_cert expired = ca.issue_cert(
      {"localhost", "127.0.0.1"},
      {"", std::chrono::system_clock::now() - std::chrono::hours(48), std::chrono::system_clock::now() - std::chrono::hours(24)});
  corio::testing::issued_cert other_host = ca.issue_cert({"other.example"});
  corio::testing::issued_cert untrusted = unknown_ca.issue_cert({"localhost", "127.0.0.1"});
  corio::testing::issued_cert client = ca.issue_cert({"client.example"});

  std::string dir;
  std::string ca_file, server_cert, server_key, server_combined, client_cert, client_key;
  std::vector<std::string> written;

  tls_files() {
    char tmpl[] = "/tmp/corio-tls-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    ca_file = write("ca.pem", ca.cert_pem());
    server_cert = write("server.crt", server.cert_pem());
    server_key = write("server.key", server.private_key_pem());
    server_combined = write("server.pem", server.private_key_pem() + server.cert_pem());
    client_cert = write("client.crt", client.cert_pem());
    client_key = write("client.key", client.private_key_pem());
  }
  ~tls_files() {
    for (const std::string& f : written) ::unlink(f.c_str());
    ::rmdir(dir.c_str());
  }
  tls_files(const tls_files&) = delete;
  tls_files& operator=(const tls_files&) = delete;

  // A file in the directory, removed with it.
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    written.push_back(path);
    return path;
  }

  static tls_files& get() {
    static tls_files files;
    return files;
  }
};

// A server context presenting `cert` (Python: create_default_context(Purpose.CLIENT_AUTH)
// plus load_cert_chain).
inline corio::ssl_context server_context(const corio::testing::issued_cert& cert) {
  corio::ssl_context ctx = corio::create_default_context(corio::ssl_purpose::client_auth);
  cert.configure_cert(ctx);
  return ctx;
}

// The usual server: localhost and 127.0.0.1, from the files.
inline corio::ssl_context server_context() {
  const tls_files& f = tls_files::get();
  corio::ssl_context ctx = corio::create_default_context(corio::ssl_purpose::client_auth);
  ctx.load_cert_chain(f.server_cert, f.server_key);
  return ctx;
}

// A client that trusts the test CA (and nothing else).
inline corio::ssl_context client_context() {
  corio::verify_locations where;
  where.cafile = tls_files::get().ca_file;
  return corio::create_default_context(corio::ssl_purpose::server_auth, where);
}

// start_server's options with ssl=ctx.
inline corio::server_options tls_server_opts(corio::ssl_context ctx) {
  corio::server_options o;
  o.ssl = std::move(ctx);
  return o;
}

// open_connection's options with ssl=ctx and server_hostname (empty: the host).
inline corio::connection_options tls_client_opts(corio::ssl_context ctx, std::string hostname) {
  corio::connection_options o;
  o.ssl = std::move(ctx);
  o.server_hostname = std::move(hostname);
  return o;
}

}  // namespace corio_test
