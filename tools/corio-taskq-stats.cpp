// corio-taskq-stats: prints the figures of a corio::distributed task queue
// (tasks waiting, in flight, retried, dead-lettered).
//
//   corio-taskq-stats [--host H] [--port P] [--name N]
//
// Exits 0, or 1 with a message on stderr if Redis cannot be reached.
#include <corio/distributed/task_queue.hpp>
#include <corio/runners.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace cd = corio::distributed;

int main(int argc, char** argv) {
  cd::redis_options redis;
  redis.unavailable_wait = std::chrono::seconds(2);
  std::string name = "corio";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 < argc && a == "--host") {
      redis.host = argv[++i];
    } else if (i + 1 < argc && a == "--port") {
      redis.port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    } else if (i + 1 < argc && a == "--name") {
      name = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--host H] [--port P] [--name N]\n", argv[0]);
      return 2;
    }
  }
  try {
    const cd::queue_stats s = corio::run([](cd::redis_options o, std::string n) -> corio::task<cd::queue_stats> {
      cd::redis_client c(std::move(o));
      co_return co_await cd::get_queue_stats(c, n);
    }(redis, name));
    std::printf("queue %s at %s:%u\n", name.c_str(), redis.host.c_str(), static_cast<unsigned>(redis.port));
    std::printf("waiting        %lld\n", s.waiting);
    std::printf("in flight      %lld\n", s.in_flight);
    std::printf("retried        %lld\n", s.retried);
    std::printf("dead-lettered  %lld\n", s.dead_lettered);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corio-taskq-stats: %s\n", e.what());
    return 1;
  }
}
