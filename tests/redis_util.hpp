// The tests of corio::distributed use the testing kit's real redis-server
// (corio/testing/redis_server.hpp): started on a free port of 127.0.0.1,
// stopped by its pid and reaped when the test ends, also when it fails.
#pragma once

#include <corio/testing/redis_server.hpp>

namespace corio_test {

using corio::testing::free_tcp_port;
using corio::testing::redis_raw_request;
using corio::testing::redis_server;

}  // namespace corio_test
