// Each CASE but 0 must fail to compile with the static_assert message that
// tests/CMakeLists.txt expects: a manager's server_factory runs in the
// server process, which a spawn or forkserver start reaches only with code,
// so it must be a function or a capture-less lambda, taking nothing and
// returning an ssl_context. CASE 0 spells it correctly.
#include <corio/multiprocessing/managers.hpp>

#include <string>

namespace {
corio::ssl_context make_server_context() { return corio::ssl_context(corio::ssl_protocol::tls_server); }
}  // namespace

void use(corio::multiprocessing::manager_ssl& s) {
#if CASE == 0
  s.server_factory = &make_server_context;
  s.server_factory = make_server_context;
  s.server_factory = [] { return corio::ssl_context(corio::ssl_protocol::tls_server); };
  s.server_factory = nullptr;
  corio::multiprocessing::manager_ssl designated{.client = {}, .server_factory = &make_server_context};
  (void)designated;
#elif CASE == 1
  std::string certfile = "server.pem";
  s.server_factory = [certfile] {
    corio::ssl_context ctx(corio::ssl_protocol::tls_server);
    ctx.load_cert_chain(certfile);
    return ctx;
  };
#elif CASE == 2
  s.server_factory = [](const std::string& certfile) {
    corio::ssl_context ctx(corio::ssl_protocol::tls_server);
    ctx.load_cert_chain(certfile);
    return ctx;
  };
#elif CASE == 3
  s.server_factory = [] { return 1; };
#endif
}
