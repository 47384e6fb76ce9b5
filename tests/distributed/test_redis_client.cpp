// corio::distributed::redis_client against a real redis-server on 127.0.0.1
// (redis_util.hpp): commands and replies, binary safety, pipelining, error
// replies, and the faults: the server stopped mid-run and started again, a
// server that stays away, the client closed with commands pending.
#include "error_util.hpp"
#include "loop_util.hpp"
#include "io/io_util.hpp"
#include "redis_util.hpp"

#include <corio/distributed/redis.hpp>
#include <corio/gather.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::distributed::broker_unavailable;
using corio::distributed::redis_client;
using corio::distributed::redis_error;
using corio::distributed::redis_options;
using corio::distributed::redis_reply;
using corio_test::redis_server;
using corio_test::outcome;
using corio_test::run_io;

redis_options options_for(const redis_server& s) {
  redis_options o;
  o.port = s.port();
  return o;
}

TEST(redis_client, basic_commands_give_status_string_integer_nil_and_array_replies) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    redis_reply r = co_await c.command("SET", "k", "v");
    EXPECT_EQ(r.type, redis_reply::kind::status);
    EXPECT_EQ(r.as_string(), "OK");
    r = co_await c.command("GET", "k");
    EXPECT_EQ(r.type, redis_reply::kind::string);
    EXPECT_EQ(r.as_string(), "v");
    EXPECT_EQ((co_await c.command("INCRBY", "n", 41)).as_integer(), 41);
    EXPECT_EQ((co_await c.command("INCR", std::string("n"))).as_integer(), 42);
    EXPECT_TRUE((co_await c.command("GET", "missing")).is_nil());
    co_await c.command("RPUSH", "l", "a", "b", "c");
    r = co_await c.command("LRANGE", "l", 0, -1);
    EXPECT_EQ(r.as_array().size(), 3u);
    if (::testing::Test::HasFailure()) co_return;
    EXPECT_EQ(r[0].as_string(), "a");
    EXPECT_EQ(r[2].as_string(), "c");
    EXPECT_TRUE(c.connected());
    EXPECT_EQ(c.connection_count(), 1u);
    EXPECT_THROW((void)r.as_integer(), std::logic_error);
  }(server));
}

TEST(redis_client, stream_replies_nest_arrays) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    const std::string id = (co_await c.command("XADD", "st", "*", "f1", "v1", "f2", "v2")).as_string();
    const redis_reply r = co_await c.command("XRANGE", "st", "-", "+");
    EXPECT_EQ(r.as_array().size(), 1u);
    if (::testing::Test::HasFailure()) co_return;
    EXPECT_EQ(r[0][0].as_string(), id);
    EXPECT_EQ(r[0][1].as_array().size(), 4u);
    if (::testing::Test::HasFailure()) co_return;
    EXPECT_EQ(r[0][1][3].as_string(), "v2");
  }(server));
}

TEST(redis_client, binary_values_with_nul_crlf_and_every_byte_round_trip) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    std::string value;
    for (int i = 0; i < 256; ++i) value += static_cast<char>(i);
    value += std::string("\r\n$3\r\n\0\0", 9);
    const std::string key("bin\0key\r\n", 9);
    co_await c.command("SET", key, value);
    EXPECT_EQ((co_await c.command("GET", key)).as_string(), value);
    const std::vector<std::byte> bytes{std::byte{0}, std::byte{0xff}, std::byte{'\n'}};
    co_await c.command("SET", "bytes", std::span<const std::byte>(bytes));
    EXPECT_EQ((co_await c.command("GET", "bytes")).as_string(), std::string("\0\xff\n", 3));
    EXPECT_EQ((co_await c.command("STRLEN", key)).as_integer(), static_cast<long long>(value.size()));
  }(server));
}

TEST(redis_client, ten_thousand_pipelined_commands_get_their_replies_in_order) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    co_await c.ping();
    std::vector<corio::future<redis_reply>> replies;
    replies.reserve(10000);
    for (int i = 0; i < 10000; ++i) replies.push_back(c.command("INCR", "counter"));
    for (int i = 0; i < 10000; ++i) EXPECT_EQ((co_await replies[i]).as_integer(), i + 1) << i;
    EXPECT_EQ(c.connection_count(), 1u);
  }(server));
}

// 16 MiB issued before the first await: the client writes while it is
// still given commands, more than the socket takes at once; every command
// goes out whole and in order.
TEST(redis_client, commands_issued_faster_than_the_socket_takes_them_all_go_out_whole_and_in_order) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    co_await c.ping();
    std::vector<corio::future<redis_reply>> replies;
    for (int i = 0; i < 256; ++i) {
      const std::string value(64 * 1024, static_cast<char>('a' + i % 26));
      replies.push_back(c.command("SET", "big" + std::to_string(i), value));
      replies.push_back(c.command("STRLEN", "big" + std::to_string(i)));
      replies.push_back(c.command("INCR", "order"));
    }
    for (int i = 0; i < 256; ++i) {
      EXPECT_EQ((co_await replies[3 * i]).as_string(), "OK") << i;
      EXPECT_EQ((co_await replies[3 * i + 1]).as_integer(), 64 * 1024) << i;
      EXPECT_EQ((co_await replies[3 * i + 2]).as_integer(), i + 1) << i;
    }
    EXPECT_EQ((co_await c.command("GETRANGE", "big27", 0, 0)).as_string(), "b");
    EXPECT_EQ(c.connection_count(), 1u);
  }(server));
}

TEST(redis_client, commands_from_many_tasks_share_the_connection) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    auto worker = [](redis_client& cl, int id) -> corio::task<void> {
      for (int i = 0; i < 100; ++i) {
        const std::string key = "k" + std::to_string(id);
        co_await cl.command("SET", key, i);
        EXPECT_EQ((co_await cl.command("GET", key)).as_string(), std::to_string(i));
      }
    };
    std::vector<corio::task<void>> tasks;
    for (int id = 0; id < 10; ++id) tasks.push_back(corio::create_task(worker(c, id)));
    for (auto& t : tasks) co_await t;
    EXPECT_EQ(c.connection_count(), 1u);
  }(server));
}

TEST(redis_client, an_error_reply_raises_redis_error_naming_the_command_and_the_connection_goes_on) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    co_await c.command("SET", "str", "x");
    std::exception_ptr e = co_await outcome(c.command("LPUSH", "str", "y"));
    EXPECT_TRUE(corio_test::holds<redis_error>(e));
    if (::testing::Test::HasFailure()) co_return;
    try {
      std::rethrow_exception(e);
    } catch (const redis_error& err) {
      EXPECT_EQ(err.command(), "LPUSH");
      EXPECT_NE(err.reply().find("WRONGTYPE"), std::string::npos) << err.reply();
      EXPECT_NE(std::string(err.what()).find("LPUSH"), std::string::npos) << err.what();
    }
    e = co_await outcome(c.command("NOSUCHCOMMAND", 1));
    EXPECT_NE(corio_test::message_of(e).find("NOSUCHCOMMAND"), std::string::npos) << corio_test::message_of(e);
    // An error inside EXEC's array raises for the whole command.
    co_await c.command("MULTI");
    co_await c.command("SET", "a", "1");
    co_await c.command("INCR", "str");
    e = co_await outcome(c.command("EXEC"));
    EXPECT_TRUE(corio_test::holds<redis_error>(e));
    EXPECT_EQ((co_await c.command("GET", "a")).as_string(), "1");
  }(server));
}

TEST(redis_client, misuse_throws_at_the_call) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    EXPECT_THROW(c.command("SUBSCRIBE", "ch"), std::invalid_argument);
    EXPECT_THROW(c.command("monitor"), std::invalid_argument);
    EXPECT_THROW(c.command_argv({}), std::invalid_argument);
    EXPECT_THROW(c.command(""), std::invalid_argument);
    co_await c.ping();
    c.close();
    EXPECT_TRUE(c.closed());
    EXPECT_THROW(c.command("PING"), std::runtime_error);
  }(server));
}

TEST(redis_client, commands_issued_before_the_connection_is_made_go_out_in_order) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    EXPECT_FALSE(c.connected());
    auto a = c.command("RPUSH", "order", 1);
    auto b = c.command("RPUSH", "order", 2);
    auto d = c.command("LRANGE", "order", 0, -1);
    EXPECT_EQ((co_await a).as_integer(), 1);
    EXPECT_EQ((co_await b).as_integer(), 2);
    const redis_reply r = co_await d;
    EXPECT_EQ(r.as_array().size(), 2u);
    if (::testing::Test::HasFailure()) co_return;
    EXPECT_EQ(r[1].as_string(), "2");
  }(server));
}

TEST(redis_client, a_name_for_the_host_is_resolved_off_the_loop) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_options o = options_for(s);
    o.host = "localhost";
    redis_client c(o);
    EXPECT_EQ(c.address(), "localhost:" + std::to_string(s.port()));
    EXPECT_EQ((co_await c.ping()).as_string(), "PONG");
  }(server));
}

TEST(redis_client, a_cancelled_wait_leaves_the_replies_of_the_others_matched) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    redis_client blocker(options_for(s));
    co_await c.ping();
    // The waiter of a BLPOP is cancelled; the connection stays in step.
    auto waiter = corio::create_task([](redis_client& cl) -> corio::task<void> {
      co_await cl.command("BLPOP", "never", 0);
    }(blocker));
    auto after = blocker.command("ECHO", "after");
    co_await corio_test::eventually([&] { return !waiter.done(); });
    waiter.cancel();
    EXPECT_THROW(co_await waiter, corio::cancelled_error);
    co_await c.command("RPUSH", "never", "x");  // ends the BLPOP
    EXPECT_EQ((co_await after).as_string(), "after");
    EXPECT_EQ((co_await blocker.command("ECHO", "later")).as_string(), "later");
  }(server));
}

TEST(redis_client, closing_with_commands_pending_ends_them_cancelled) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    co_await c.ping();
    auto blocked = c.command("BLPOP", "nothing", 0);
    auto behind = c.command("PING");
    c.close();
    EXPECT_TRUE(corio_test::holds<corio::cancelled_error>(co_await outcome(blocked)));
    EXPECT_TRUE(corio_test::holds<corio::cancelled_error>(co_await outcome(behind)));
    EXPECT_FALSE(c.connected());
    c.close();  // idempotent
  }(server));
}

TEST(redis_client, destroying_the_client_with_commands_in_flight_and_queued_leaks_nothing) {
  redis_server server;
  const int fds_before = corio_test::open_fd_count();
  run_io([](const redis_server& s) -> corio::task<void> {
    corio::future<redis_reply> in_flight, queued;
    {
      redis_client c(options_for(s));
      queued = c.command("PING");  // not connected yet: waits in the client
      EXPECT_FALSE(c.connected());
    }
    EXPECT_TRUE(queued.cancelled());
    {
      redis_client c(options_for(s));
      co_await c.ping();
      in_flight = c.command("BLPOP", "nothing", 0);
    }
    EXPECT_TRUE(in_flight.cancelled());
  }(server));
  EXPECT_EQ(corio_test::open_fd_count(), fds_before);
}

TEST(redis_client, a_client_destroyed_after_its_loop_closed_closes_its_socket_without_touching_the_loop) {
  redis_server server;
  const int fds_before = corio_test::open_fd_count();
  std::optional<redis_client> c;
  corio::future<redis_reply> in_flight;
  run_io([](const redis_server& s, std::optional<redis_client>& client,
            corio::future<redis_reply>& f) -> corio::task<void> {
    client.emplace(options_for(s));
    co_await client->ping();
    f = client->command("BLPOP", "nothing", 0);
  }(server, c, in_flight));
  EXPECT_FALSE(in_flight.done());
  c.reset();
  EXPECT_EQ(corio_test::open_fd_count(), fds_before);
}

TEST(redis_client, server_stopped_and_started_again_fails_the_commands_in_flight_then_reconnects) {
  redis_server server;
  run_io([](redis_server& s) -> corio::task<void> {
    redis_options o = options_for(s);
    o.backoff_initial = 10ms;
    o.backoff_max = 100ms;
    o.unavailable_wait = 20s;
    redis_client c(o);
    redis_client blocker(o);
    co_await c.command("SET", "before", 1);
    co_await blocker.ping();
    auto in_flight = blocker.command("BLPOP", "nothing", 0);
    s.kill();
    const std::exception_ptr e = co_await outcome(in_flight);
    EXPECT_TRUE(corio_test::holds<broker_unavailable>(e));
    if (::testing::Test::HasFailure()) co_return;
    const std::string what = corio_test::message_of(e);
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(s.port())), std::string::npos) << what;
    EXPECT_NE(what.find("connection"), std::string::npos) << what;
    // Issued while the server is away: they wait for the reconnection.
    EXPECT_TRUE(co_await corio_test::eventually([&] { return !c.connected(); }));
    auto later = c.command("SET", "after", 2);
    auto read = c.command("GET", "after");
    s.start();
    EXPECT_EQ((co_await later).as_string(), "OK");
    EXPECT_EQ((co_await read).as_string(), "2");
    EXPECT_EQ((co_await blocker.command("ECHO", "back")).as_string(), "back");
    EXPECT_EQ(c.connection_count(), 2u);
    EXPECT_TRUE((co_await c.command("GET", "before")).is_nil());  // no persistence: a fresh server
  }(server));
}

TEST(redis_client, a_server_that_stays_away_gives_broker_unavailable_in_bounded_time) {
  redis_server server;
  server.stop();
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_options o = options_for(s);
    o.unavailable_wait = 200ms;
    o.backoff_initial = 10ms;
    o.backoff_max = 50ms;
    redis_client c(o);
    const auto start = std::chrono::steady_clock::now();
    const std::exception_ptr e = co_await outcome(c.command("PING"));
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(corio_test::holds<broker_unavailable>(e));
    if (::testing::Test::HasFailure()) co_return;
    EXPECT_GE(waited, 200ms);
    EXPECT_LT(waited, 10s);
    const std::string what = corio_test::message_of(e);
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(s.port())), std::string::npos) << what;
    EXPECT_NE(what.find("refused"), std::string::npos) << what;
    EXPECT_FALSE(c.connected());
    // The client keeps trying: a later command fails the same way.
    EXPECT_TRUE(corio_test::holds<broker_unavailable>(co_await outcome(c.command("PING"))));
  }(server));
}

// A server at its client limit sends an error and closes before any
// command: a reply with no command waiting for it, which hiredis reads
// itself; the client takes it as a lost connection and comes back once
// the server takes clients again.
TEST(redis_client, an_error_from_a_server_refusing_the_connection_is_a_lost_connection_not_a_reply) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    redis_client admin(options_for(s));
    co_await admin.command("CONFIG", "SET", "maxclients", 1);
    redis_options o = options_for(s);
    o.backoff_initial = 10ms;
    o.backoff_max = 50ms;
    redis_client refused(o);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return refused.connection_count() >= 2; }));
    co_await admin.command("CONFIG", "SET", "maxclients", 100);
    redis_reply pong;
    for (int i = 0; i < 1000 && pong.str != "PONG"; ++i) {
      try {
        pong = co_await refused.command("PING");
      } catch (const redis_error& e) {  // sent on a connection the server was refusing
        EXPECT_NE(e.reply().find("max number of clients"), std::string::npos) << e.reply();
      } catch (const broker_unavailable&) {
      }
      if (pong.str != "PONG") co_await corio::sleep(5ms);
    }
    EXPECT_EQ(pong.str, "PONG");
  }(server));
}

TEST(redis_client, the_fixture_can_run_with_the_append_only_log) {
  redis_server server(redis_server::options{.appendonly = true});
  run_io([](redis_server& s) -> corio::task<void> {
    redis_client c(options_for(s));
    EXPECT_EQ((co_await c.command("CONFIG", "GET", "appendonly"))[1].as_string(), "yes");
    co_await c.command("SET", "durable", "yes");
    c.close();
    s.stop();  // SIGTERM: the log is written out
    s.start();
    redis_client again(options_for(s));
    EXPECT_EQ((co_await again.command("GET", "durable")).as_string(), "yes");
  }(server));
}

}  // namespace
