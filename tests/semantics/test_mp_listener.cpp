// docs/semantics.md: MP-29 (Listener and Client), MG-15 (the authkey
// handshake) and MG-16 (the empty key), over real AF_UNIX and TCP
// sockets, blocking (a peer on another thread) and awaitable (several
// peers at once in one loop), and against the machine's python3.
//
// Parts of rules with nothing to test in C++:
//   MP-29  a non-bytes authkey (TypeError): the key is a std::string.
//   MG-16  current_process().authkey as the default: no key means no
//          handshake here (docs/python-mapping.md, departure 111).
#include "multiprocessing_util.hpp"
#include "unit/watchdog.hpp"

#include <corio/multiprocessing/listener.hpp>
#include <corio/os_errors.hpp>
#include <corio/runners.hpp>
#include <corio/sock_ops.hpp>
#include <corio/subprocess/popen.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace std::string_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;
using corio_test::watchdog;

namespace {

constexpr auto kBound = 30s;

// The what() of the exception `f` throws, of type E; "" if none.
template <class E, class F>
std::string what_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// Echoes byte messages until "stop".
void echo_bytes(mp::connection& c) {
  for (std::string m = c.recv_bytes(); m != "stop"; m = c.recv_bytes()) c.send_bytes(m);
}

// `t` under a real-time bound, for corio::run (wait_for needs a running loop).
template <class T>
corio::task<T> within(corio::task<T> t, std::chrono::nanoseconds bound) {
  co_return co_await corio::wait_for(std::move(t), bound);
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

// == MP-29 ==================================================================================

TEST(MP_29, no_address_listens_on_a_fresh_unix_path_removed_at_close) {
  watchdog w(kBound, "MP_29 default address");
  mp::listener l;
  const mp::address a = l.address();
  ASSERT_TRUE(a.is_unix());
  EXPECT_TRUE(exists(a.path()));
  mp::listener other;
  EXPECT_NE(other.address(), a);
  auto server = std::async(std::launch::async, [&] {
    mp::connection c = l.accept();
    c.send_bytes("hello");
  });
  mp::connection c = mp::client(a);
  EXPECT_EQ(c.recv_bytes(), "hello");
  server.get();
  l.close();
  EXPECT_FALSE(exists(a.path()));
  EXPECT_FALSE(exists(std::filesystem::path(a.path()).parent_path()));  // its private directory too
  l.close();  // twice is fine
}

TEST(MP_29, the_inet_families_default_to_a_free_loopback_port) {
  mp::listener v4(std::nullopt, mp::family::af_inet);
  EXPECT_EQ(v4.address().host(), "127.0.0.1");
  EXPECT_NE(v4.address().port(), 0);
  try {
    mp::listener v6(std::nullopt, mp::family::af_inet6);
    EXPECT_EQ(v6.address().host(), "::1");
    EXPECT_NE(v6.address().port(), 0);
  } catch (const corio::os_error& e) {
    // A machine without IPv6 on loopback; the IPv4 half still counts.
    std::cerr << "no IPv6 loopback: " << e.what() << "\n";
  }
}

TEST(MP_29, binding_an_address_in_use_raises_os_error_naming_it) {
  mp::listener tcp(mp::address("127.0.0.1", 0));
  const mp::address a = tcp.address();
  const std::string what = what_of<corio::os_error>([&] { mp::listener again(a); });
  EXPECT_NE(what.find("bind to " + a.to_string()), std::string::npos) << what;
  EXPECT_NE(what.find("in use"), std::string::npos) << what;

  mp::listener unix_path;
  const std::string uwhat = what_of<corio::os_error>([&] { mp::listener again(unix_path.address()); });
  EXPECT_NE(uwhat.find(unix_path.address().path()), std::string::npos) << uwhat;
  // The failed listener did not remove the first one's path.
  EXPECT_TRUE(exists(unix_path.address().path()));
}

TEST(MP_29, a_closed_listeners_port_can_be_bound_again_at_once) {
  mp::address a("127.0.0.1", 0);
  {
    mp::listener l(a);
    a = l.address();
    // A connection accepted and closed leaves the port in TIME_WAIT.
    auto server = std::async(std::launch::async, [&] { l.accept().close(); });
    mp::connection c = mp::client(a);
    server.get();
  }
  mp::listener again(a);
  EXPECT_EQ(again.address(), a);
}

TEST(MP_29, accept_after_close_raises_os_error) {
  mp::listener l(mp::address("127.0.0.1", 0));
  l.close();
  EXPECT_TRUE(l.closed());
  EXPECT_NE(what_of<corio::os_error>([&] { l.accept(); }).find("listener is closed"), std::string::npos);
  EXPECT_THROW(corio::run(l.accept_async()), corio::os_error);
}

TEST(MP_29, a_family_that_does_not_fit_the_address_is_invalid_argument) {
  EXPECT_THROW(mp::listener(mp::address("/tmp/x"), mp::family::af_inet), std::invalid_argument);
  EXPECT_THROW(mp::listener(mp::address("127.0.0.1", 0), mp::family::af_unix), std::invalid_argument);
  EXPECT_THROW(mp::listener(mp::address("127.0.0.1", 0), mp::family::af_inet6), std::invalid_argument);
}

TEST(MP_29, a_client_to_a_missing_path_or_a_closed_port_raises_the_os_error_naming_the_address) {
  const std::string missing = "/tmp/corio-no-such-listener-" + std::to_string(::getpid());
  const std::string w1 = what_of<corio::file_not_found_error>([&] { mp::client(mp::address(missing)); });
  EXPECT_NE(w1.find(missing), std::string::npos) << w1;
  mp::address closed("127.0.0.1", 0);
  {
    mp::listener l(closed);
    closed = l.address();
  }
  const std::string w2 = what_of<corio::connection_refused_error>([&] { mp::client(closed); });
  EXPECT_NE(w2.find(closed.to_string()), std::string::npos) << w2;
  EXPECT_THROW(corio::run(mp::client_async(closed)), corio::connection_refused_error);
  EXPECT_THROW(corio::run(mp::client_async(mp::address(missing))), corio::file_not_found_error);
}

TEST(MP_29, listener_and_client_exchange_values_and_bytes_over_unix_and_tcp) {
  watchdog w(kBound, "MP_29 exchange");
  const mp::address abstract("\0corio-mp29-"s + std::to_string(::getpid()));
  for (const mp::address& at : {mp::address("127.0.0.1", 0), mp::address(""), abstract}) {
    SCOPED_TRACE(at.to_string());
    mp::listener l = at.path().empty() && at.is_unix() ? mp::listener() : mp::listener(at);
    if (at.is_abstract()) {
      EXPECT_EQ(l.address(), at);
      EXPECT_TRUE(l.address().to_string().starts_with("@corio-mp29-"));
    }
    auto server = std::async(std::launch::async, [&] {
      mp::connection c = l.accept();
      c.send(std::vector<int>{1, 2, 3});
      c.send(c.recv<std::string>() + "!");
      echo_bytes(c);
    });
    mp::connection c = mp::client(l.address());
    EXPECT_EQ(c.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
    c.send(std::string("hi"));
    EXPECT_EQ(c.recv<std::string>(), "hi!");
    const std::string big(1 << 20, 'x');  // more than a socket buffer holds
    c.send_bytes(big);
    EXPECT_EQ(c.recv_bytes(), big);
    c.send_bytes("abcdef", 2, 3);
    EXPECT_EQ(c.recv_bytes(), "cde");
    c.send_bytes("stop");
    server.get();
    ASSERT_TRUE(l.last_accepted().has_value());
    if (at.is_unix()) {
      EXPECT_EQ(*l.last_accepted(), mp::address(""));  // an unnamed peer, as Python's ''
    } else {
      EXPECT_EQ(l.last_accepted()->host(), "127.0.0.1");
      EXPECT_NE(l.last_accepted()->port(), 0);
    }
  }
}

TEST(MP_29, a_host_name_resolves_for_listener_and_client) {
  watchdog w(kBound, "MP_29 host name");
  mp::listener l(mp::address("localhost", 0), mp::family::af_inet);
  EXPECT_EQ(l.address().host(), "127.0.0.1");
  const mp::address named("localhost", l.address().port());
  auto server = std::async(std::launch::async, [&] {
    l.accept().send_bytes("named");
    l.accept().send_bytes("named again");
  });
  EXPECT_EQ(mp::client(named).recv_bytes(), "named");
  mp::connection c = corio::run(within(mp::client_async(named), kBound));
  EXPECT_EQ(c.recv_bytes(), "named again");
  server.get();
}

// == MG-15 ==================================================================================

TEST(MG_15, the_right_key_authenticates_both_ways_and_the_connection_is_then_ordinary) {
  watchdog w(kBound, "MG_15 right key");
  mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string("secret"));
  auto server = std::async(std::launch::async, [&] {
    mp::connection c = l.accept();
    echo_bytes(c);
  });
  mp::connection c = mp::client(l.address(), std::string("secret"));
  c.send_bytes("after the handshake");
  EXPECT_EQ(c.recv_bytes(), "after the handshake");
  c.send_bytes("stop");
  server.get();
}

TEST(MG_15, a_wrong_key_raises_authentication_error_at_both_ends_with_pythons_messages) {
  watchdog w(kBound, "MG_15 wrong key");
  mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string("right"));
  auto server = std::async(std::launch::async, [&] {
    return what_of<mp::authentication_error>([&] { l.accept(); });
  });
  EXPECT_EQ(what_of<mp::authentication_error>([&] { mp::client(l.address(), std::string("wrong")); }),
            "digest sent was rejected");
  EXPECT_EQ(server.get(), "digest received was wrong");
}

TEST(MG_15, a_client_that_answers_right_but_challenges_with_another_key_fails_the_listener) {
  // The second leg: the listener answers the client's challenge and is
  // refused, so it is the listener that reads "digest sent was rejected".
  watchdog w(kBound, "MG_15 second leg");
  mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string("right"));
  auto server = std::async(std::launch::async, [&] {
    return what_of<mp::authentication_error>([&] { l.accept(); });
  });
  mp::connection c = mp::client(l.address());
  mp::answer_challenge(c, "right");
  EXPECT_EQ(what_of<mp::authentication_error>([&] { mp::deliver_challenge(c, "other"); }),
            "digest received was wrong");
  EXPECT_EQ(server.get(), "digest sent was rejected");
}

TEST(MG_15, an_oversized_handshake_message_is_refused_at_both_ends) {
  watchdog w(kBound, "MG_15 oversized");
  // A client answering the challenge with 257 bytes.
  {
    mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string("k"));
    auto server = std::async(std::launch::async, [&] {
      return what_of<corio::os_error>([&] { l.accept(); });
    });
    mp::connection c = mp::client(l.address());
    EXPECT_TRUE(c.recv_bytes().starts_with("#CHALLENGE#{sha256}"));
    c.send_bytes(std::string(257, 'a'));
    EXPECT_NE(server.get().find("bad message length"), std::string::npos);
  }
  // A listener challenging with 257 bytes.
  {
    mp::listener l(mp::address("127.0.0.1", 0));
    auto server = std::async(std::launch::async, [&] {
      mp::connection c = l.accept();
      c.send_bytes("#CHALLENGE#" + std::string(246, 'a'));
      (void)c.poll(std::nullopt);  // until the client hangs up
    });
    EXPECT_NE(what_of<corio::os_error>([&] { mp::client(l.address(), std::string("k")); }).find("bad message length"),
              std::string::npos);
    server.get();
  }
}

TEST(MG_15, a_peer_that_is_not_speaking_the_protocol_gets_authentication_error) {
  watchdog w(kBound, "MG_15 protocol");
  mp::listener l(mp::address("127.0.0.1", 0));
  auto server = std::async(std::launch::async, [&] {
    mp::connection c = l.accept();
    c.send_bytes("#WELCOME#");
    (void)c.poll(std::nullopt);
  });
  EXPECT_NE(what_of<mp::authentication_error>([&] { mp::client(l.address(), std::string("k")); })
                .find("expected a challenge"),
            std::string::npos);
  server.get();
}

// == MG-16 ==================================================================================

TEST(MG_16, an_empty_key_is_an_ordinary_key_on_both_sides) {
  watchdog w(kBound, "MG_16 empty key");
  mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string());
  {
    auto server = std::async(std::launch::async, [&] { l.accept().send_bytes("in"); });
    EXPECT_EQ(mp::client(l.address(), std::string()).recv_bytes(), "in");
    server.get();
  }
  // An empty key is not the same as another key, nor as no handshake.
  {
    auto server = std::async(std::launch::async, [&] {
      return what_of<mp::authentication_error>([&] { l.accept(); });
    });
    EXPECT_EQ(what_of<mp::authentication_error>([&] { mp::client(l.address(), std::string("k")); }),
              "digest sent was rejected");
    EXPECT_EQ(server.get(), "digest received was wrong");
  }
  {
    auto server = std::async(std::launch::async, [&] { EXPECT_THROW(l.accept(), mp::eof_error); });
    // No key: the client reads the challenge as a message.
    mp::connection c = mp::client(l.address());
    EXPECT_TRUE(c.recv_bytes().starts_with("#CHALLENGE#"));
    c.close();
    server.get();
  }
}

// == the awaitable forms ====================================================================

namespace {

corio::task<std::string> one_client(mp::address a, std::string key, int i) {
  mp::connection c = co_await mp::client_async(a, key);
  co_await c.send_async(i);
  co_return co_await c.recv_bytes_async();
}

corio::task<void> serve(mp::listener& l, int n) {
  std::vector<corio::task<void>> handlers;
  for (int i = 0; i < n; ++i) {
    auto c = std::make_shared<mp::connection>(co_await l.accept_async());
    handlers.push_back(corio::create_task([](std::shared_ptr<mp::connection> conn) -> corio::task<void> {
      const int v = co_await conn->recv_async<int>();
      co_await conn->send_bytes_async("reply " + std::to_string(v));
    }(c)));
  }
  for (auto& h : handlers) co_await h;
}

corio::task<std::vector<std::string>> several_at_once(mp::listener& l, int n) {
  auto server = corio::create_task(serve(l, n));
  std::vector<corio::task<std::string>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(corio::create_task(one_client(l.address(), "k", i)));
  std::vector<std::string> out;
  for (auto& c : clients) out.push_back(co_await c);
  co_await server;
  co_return out;
}

}  // namespace

TEST(MP_29, the_awaitable_forms_serve_several_authenticating_clients_at_once_in_one_loop) {
  watchdog w(kBound, "MP_29 awaitable");
  const mp::address abstract("\0corio-mp29a-"s + std::to_string(::getpid()));
  for (const mp::address& at : {mp::address("127.0.0.1", 0), abstract}) {
    mp::listener l(at, std::nullopt, 8, std::string("k"));
    const auto out = corio::run(within(several_at_once(l, 6), kBound));
    ASSERT_EQ(out.size(), 6u);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], "reply " + std::to_string(i));
  }
}

TEST(MG_15, a_wrong_key_fails_the_awaitable_forms_at_both_ends) {
  watchdog w(kBound, "MG_15 awaitable wrong key");
  mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string("right"));
  corio::run(within(
      [](mp::listener& lis) -> corio::task<void> {
        auto server = corio::create_task(lis.accept_async());
        EXPECT_THROW(co_await mp::client_async(lis.address(), "wrong"), mp::authentication_error);
        EXPECT_THROW(co_await server, mp::authentication_error);
      }(l),
      kBound));
}

TEST(MG_15, a_timeout_around_accept_async_ends_a_silent_peers_handshake_and_closes_its_connection) {
  // Python's accept waits for a peer that never answers; the awaitable
  // form can be bounded, and what it leaves is closed.
  watchdog w(kBound, "MG_15 silent peer");
  mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string("k"));
  corio::run(within(
      [](mp::listener& lis) -> corio::task<void> {
        corio::socket peer(AF_INET, SOCK_STREAM);
        co_await corio::sock_connect(peer, corio::socket_address::ip("127.0.0.1", lis.address().port()));
        EXPECT_THROW(co_await corio::wait_for(lis.accept_async(), 50ms), corio::timeout_error);
        // The listener closed its end: the silent peer reads the challenge, then the end.
        std::string got;
        for (;;) {
          std::string part = co_await corio::sock_recv(peer, 4096);
          if (part.empty()) break;
          got += part;
        }
        EXPECT_TRUE(got.find("#CHALLENGE#") != std::string::npos);
      }(l),
      kBound));
  // The listener goes on accepting.
  auto server = std::async(std::launch::async, [&] { l.accept().send_bytes("next"); });
  EXPECT_EQ(mp::client(l.address(), std::string("k")).recv_bytes(), "next");
  server.get();
}

TEST(MG_15, a_timeout_around_client_async_ends_a_handshake_the_listener_never_starts) {
  watchdog w(kBound, "MG_15 silent listener");
  mp::listener l(mp::address("127.0.0.1", 0));  // accepts nothing: the kernel's backlog completes the connect
  EXPECT_THROW(corio::run(within(mp::client_async(l.address(), "k"), 50ms)), corio::timeout_error);
}

// == against Python =========================================================================

namespace {

namespace sp = corio::subprocess;

bool have_python() { return std::system("command -v python3 > /dev/null 2>&1") == 0; }

// Python's Listener on a free port: prints the port, accepts one
// connection, echoes one message with a prefix, prints what happened. Both
// scripts end themselves after 60 s (SIGALRM), so that a test stopped by
// its watchdog leaves no Python behind.
constexpr const char* kPythonListener =
    "import signal, sys\n"
    "signal.alarm(60)\n"
    "from multiprocessing.connection import Listener\n"
    "with Listener(('127.0.0.1', 0), authkey=sys.argv[1].encode()) as l:\n"
    "    print(l.address[1], flush=True)\n"
    "    try:\n"
    "        with l.accept() as c:\n"
    "            c.send_bytes(b'py:' + c.recv_bytes())\n"
    "        print('ok', flush=True)\n"
    "    except Exception as e:\n"
    "        print(type(e).__name__, e, flush=True)\n";

// Python's Client: sends one message, prints the reply or the error.
constexpr const char* kPythonClient =
    "import signal, sys\n"
    "signal.alarm(60)\n"
    "from multiprocessing.connection import Client\n"
    "try:\n"
    "    with Client(('127.0.0.1', int(sys.argv[1])), authkey=sys.argv[2].encode()) as c:\n"
    "        c.send_bytes(b'from python')\n"
    "        print(c.recv_bytes().decode(), flush=True)\n"
    "except Exception as e:\n"
    "    print(type(e).__name__, e, flush=True)\n";

std::string strip(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

TEST_F(mp_test, MP_29_a_corio_client_talks_to_a_python_listener_with_its_authkey) {
  if (!have_python()) GTEST_SKIP() << "no python3 on this machine";
  watchdog w(kBound, "python listener");
  for (const std::string key : {"k", "wrong"}) {
    SCOPED_TRACE(key);
    sp::popen py({"python3", "-c", kPythonListener, "k"}, {.stdout = sp::pipe});
    const int port = std::stoi(py.stdout()->readline());
    const mp::address a("127.0.0.1", static_cast<std::uint16_t>(port));
    if (key == "k") {
      mp::connection c = mp::client(a, key);
      c.send_bytes("from corio");
      EXPECT_EQ(c.recv_bytes(), "py:from corio");
      EXPECT_EQ(strip(py.stdout()->readline()), "ok");
    } else {
      EXPECT_EQ(what_of<mp::authentication_error>([&] { mp::client(a, key); }), "digest sent was rejected");
      EXPECT_EQ(strip(py.stdout()->readline()), "AuthenticationError digest received was wrong");
    }
    EXPECT_EQ(py.wait(kBound), 0);
  }
}

TEST_F(mp_test, MP_29_a_corio_listener_accepts_a_python_client_with_its_authkey) {
  if (!have_python()) GTEST_SKIP() << "no python3 on this machine";
  watchdog w(kBound, "python client");
  mp::listener l(mp::address("127.0.0.1", 0), std::nullopt, 1, std::string("k"));
  const std::string port = std::to_string(l.address().port());
  for (const std::string key : {"k", "wrong"}) {
    SCOPED_TRACE(key);
    sp::popen py({"python3", "-c", kPythonClient, port, key}, {.stdout = sp::pipe});
    if (key == "k") {
      mp::connection c = corio::run(within(l.accept_async(), kBound));
      EXPECT_EQ(c.recv_bytes(), "from python");
      c.send_bytes("from corio");
      EXPECT_EQ(strip(py.stdout()->readline()), "from corio");
    } else {
      EXPECT_THROW(
          {
            try {
              corio::run(within(l.accept_async(), kBound));
            } catch (const mp::authentication_error& e) {
              EXPECT_STREQ(e.what(), "digest received was wrong");
              throw;
            }
          },
          mp::authentication_error);
      EXPECT_EQ(strip(py.stdout()->readline()), "AuthenticationError digest sent was rejected");
    }
    EXPECT_EQ(py.wait(kBound), 0);
  }
}
