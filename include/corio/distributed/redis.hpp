// A Redis client on corio's event loop (Python: redis.asyncio.Redis, one
// connection), driven through hiredis's asynchronous API.
#pragma once

#include <corio/events.hpp>
#include <corio/futures.hpp>

#include <chrono>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace corio::distributed {

/// Python: redis.exceptions.ConnectionError. The broker cannot be reached:
/// the connection to host:port was lost with the command in flight, or none
/// could be made within the client's `unavailable_wait`. what() names the
/// address and the cause.
class broker_unavailable : public std::runtime_error {
 public:
  broker_unavailable(std::string address, std::string cause, bool sent = false)
      : std::runtime_error("redis at " + address + " unavailable: " + cause),
        address_(std::move(address)),
        cause_(std::move(cause)),
        sent_(sent) {}
  /// "host:port".
  const std::string& address() const noexcept { return address_; }
  /// Why: "connection refused", "connection lost: Server closed the connection", ...
  const std::string& cause() const noexcept { return cause_; }
  /// True if the command had been sent when the connection was lost: Redis
  /// may have run it. False if it never left the client.
  bool sent() const noexcept { return sent_; }

 private:
  std::string address_;
  std::string cause_;
  bool sent_;
};

/// Python: redis.exceptions.ResponseError. Redis answered the command with an
/// error reply; what() is "redis: <COMMAND>: <the reply>".
class redis_error : public std::runtime_error {
 public:
  redis_error(std::string command, std::string reply)
      : std::runtime_error("redis: " + command + ": " + reply), command_(std::move(command)), reply_(std::move(reply)) {}
  /// The command's name, as sent ("XADD").
  const std::string& command() const noexcept { return command_; }
  /// The error reply ("WRONGTYPE Operation against a key holding the wrong kind of value").
  const std::string& reply() const noexcept { return reply_; }

 private:
  std::string command_;
  std::string reply_;
};

/// One reply of Redis's protocol (RESP2), as redis-py decodes it: nil
/// (Python: None), an integer, a bulk string (bytes, binary-safe), a status
/// ("OK"), or an array of replies. Error replies are not values: they raise
/// redis_error.
struct redis_reply {
  enum class kind : std::uint8_t { nil, integer, string, status, array };

  kind type = kind::nil;
  long long integer = 0;            ///< kind::integer
  std::string str;                  ///< kind::string and kind::status
  std::vector<redis_reply> elements;  ///< kind::array

  bool is_nil() const noexcept { return type == kind::nil; }
  /// The integer; std::logic_error naming the kind if it is something else.
  long long as_integer() const;
  /// The string or status; std::logic_error if it is something else.
  const std::string& as_string() const;
  /// The elements; std::logic_error if it is not an array.
  const std::vector<redis_reply>& as_array() const;
  /// Element i of an array (std::logic_error if not an array, std::out_of_range past its end).
  const redis_reply& operator[](std::size_t i) const { return as_array().at(i); }
  friend bool operator==(const redis_reply&, const redis_reply&) = default;
};

/// How a redis_client connects and what it does when the broker goes away.
struct redis_options {
  std::string host = "127.0.0.1";  ///< an IPv4 or IPv6 address, or a name (resolved off the loop)
  std::uint16_t port = 6379;
  /// One connection attempt that takes longer is abandoned (and retried).
  duration connect_timeout = std::chrono::seconds(5);
  /// A command issued while the client is not connected waits this long for
  /// the connection before it fails with broker_unavailable.
  duration unavailable_wait = std::chrono::seconds(5);
  /// Reconnection backoff: the first wait after a failure, doubled after each
  /// further failure up to the maximum; each wait is drawn at random from
  /// [wait/2, wait] so that many clients do not come back in step.
  duration backoff_initial = std::chrono::milliseconds(50);
  duration backoff_max = std::chrono::seconds(2);
};

namespace detail {
struct redis_impl;

// One argument of a command as bytes: strings and byte spans as they are,
// integers in decimal (what redis-py sends for an int).
class redis_arg {
 public:
  redis_arg(std::string_view s) noexcept : view_(s) {}  // NOLINT: implicit on purpose
  redis_arg(const std::string& s) noexcept : view_(s) {}  // NOLINT
  redis_arg(const char* s) noexcept : view_(s) {}  // NOLINT
  redis_arg(std::span<const std::byte> b) noexcept  // NOLINT
      : view_(reinterpret_cast<const char*>(b.data()), b.size()) {}
  template <std::integral I>
    requires(!std::same_as<I, bool> && !std::same_as<I, char>)
  redis_arg(I v) noexcept {  // NOLINT
    const auto r = std::to_chars(buf_, buf_ + sizeof buf_, v);
    len_ = static_cast<std::uint8_t>(r.ptr - buf_);
    number_ = true;
  }
  redis_arg(const redis_arg&) = delete;
  redis_arg& operator=(const redis_arg&) = delete;
  std::string_view view() const noexcept { return number_ ? std::string_view(buf_, len_) : view_; }

 private:
  std::string_view view_;
  char buf_[24];
  std::uint8_t len_ = 0;
  bool number_ = false;
};

// The command in Redis's protocol (a RESP array of bulk strings).
std::string redis_format(std::span<const std::string_view> argv);
}  // namespace detail

/// One connection to a Redis server, used from the loop that was running when
/// it was made (docs/design.md, rule 5). Nothing runs in another thread and
/// nothing blocks the loop: hiredis reads and writes when corio's loop says
/// the socket is ready (add_reader / add_writer).
///
/// `co_await client.command("XADD", key, "*", field, value)` sends a command
/// and gives its reply. Arguments are binary-safe (std::string,
/// std::string_view, byte spans, C strings) or integers. The command is
/// written when command() is called, so several calls before the first
/// co_await, or from several tasks, go out together on the one connection
/// (pipelining) and their replies come back in order. Cancelling the task
/// that awaits a reply cancels the wait, not the command: Redis may have
/// run it.
///
/// Faults: a command in flight when the connection is lost fails with
/// broker_unavailable (Redis may or may not have run it). The client then
/// reconnects in the background with bounded, jittered exponential backoff
/// (redis_options). A command issued while there is no connection waits for
/// one, in order with the others, for at most `unavailable_wait`, then fails
/// with broker_unavailable. Closing or destroying the client ends the
/// commands still pending as cancelled (cancelled_error).
///
/// Blocking commands (BLPOP, XREADGROUP ... BLOCK, WAIT) hold the connection
/// until they return, and every command behind them waits too: give them a
/// redis_client of their own. The subscriber commands (SUBSCRIBE, PSUBSCRIBE,
/// MONITOR and their UN- forms) change what a connection answers and are
/// refused (std::invalid_argument); read a stream with XREAD BLOCK instead.
class redis_client {
 public:
  /// Binds the client to the running loop (std::runtime_error without one);
  /// the first connection is attempted at once, in the background.
  explicit redis_client(redis_options opts = {});
  /// close(). A client that outlives its loop only closes its socket: the
  /// commands it still had can no longer complete.
  ~redis_client();
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  /// Sends a command (its name and arguments); the future gives the reply,
  /// or raises redis_error (an error reply), broker_unavailable, or
  /// cancelled_error (the client was closed). std::invalid_argument for an
  /// empty command or a subscriber command; std::runtime_error if closed.
  template <class... A>
  future<redis_reply> command(const A&... args) {
    static_assert(sizeof...(A) > 0, "corio::distributed::redis_client::command: give the command's name");
    const detail::redis_arg parts[] = {detail::redis_arg(args)...};
    std::string_view views[sizeof...(A)];
    for (std::size_t i = 0; i < sizeof...(A); ++i) views[i] = parts[i].view();
    return command_argv(std::span<const std::string_view>(views, sizeof...(A)));
  }
  /// As command(), with the name and arguments in a span.
  future<redis_reply> command_argv(std::span<const std::string_view> argv);
  /// Waits until the client is connected: broker_unavailable after
  /// `unavailable_wait` without a connection.
  future<redis_reply> ping() { return command("PING"); }

  /// True while a connection is established.
  bool connected() const noexcept;
  /// Connections made so far (1 after the first; each reconnection adds one).
  std::uint64_t connection_count() const noexcept;
  /// "host:port".
  const std::string& address() const noexcept;
  /// Closes the connection and stops reconnecting; pending commands end
  /// cancelled. Idempotent.
  void close() noexcept;
  bool closed() const noexcept;

 private:
  std::shared_ptr<detail::redis_impl> impl_;
};

}  // namespace corio::distributed
