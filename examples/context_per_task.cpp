// contextvars: a request id carried by each task, without passing it down.
// Each task runs in a copy of the context it was created in, so the value a
// handler sets is seen by everything it calls, and by nothing outside it.
//
//   request_id = contextvars.ContextVar('request_id', default='-')
//   def log(msg): print(f'[{request_id.get()}] {msg}')
//
// Usage: context_per_task [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <cstdio>
#include <string>

namespace {

corio::context_var<std::string> request_id("request_id", "-");

void log(const std::string& msg) { std::printf("[%s] %s\n", request_id.get().c_str(), msg.c_str()); }

corio::task<> lookup_user(demo::options o) {
  co_await corio::sleep(o.units(0.1));
  log("user looked up");  // reads the id set by the handler that called us
}

corio::task<> handle_request(std::string id, double work, demo::options o) {
  request_id.set(id);
  log("request started");
  co_await corio::sleep(o.units(work));
  co_await lookup_user(o);
  log("request finished");
}

corio::task<> main_task(demo::options o) {
  log("server starting");
  co_await corio::gather(handle_request("req-1", 0.3, o), handle_request("req-2", 0.1, o),
                         handle_request("req-3", 0.2, o));
  log("server done; its own context never saw the requests' ids");
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}
