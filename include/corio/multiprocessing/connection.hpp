// Python: multiprocessing.Pipe, multiprocessing.connection.Connection and
// multiprocessing.connection.wait.
//
// A connection carries messages, never a byte stream: each is framed as
// Python frames it (a 4-byte big-endian signed length, or -1 and an 8-byte
// length past 2^31 - 1 bytes), so a corio process and a Python one can
// exchange send_bytes/recv_bytes messages over an inherited fd. send/recv
// carry values through the codec (codec.hpp).
//
// Every blocking call has an awaitable twin for use inside a running loop
// (recv_async, send_async, recv_bytes_async, send_bytes_async, poll_async),
// which waits through the loop and never blocks it. A cancelled or timed
// out receive loses nothing: a message is either returned whole or left
// for the next receive (the bytes read so far stay in the connection's
// buffer); a send cancelled after its first byte went out finishes the
// message first, then raises cancelled_error, so the stream is never left
// with half a message. A connection must not be moved or closed while one
// of its awaitables is pending.
//
// A connection over a socket may be wrapped in TLS (a manager reached
// across a network, managers.hpp): the framing is the same, and the bytes
// go through OpenSSL instead of straight to the fd.
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/tasks.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

struct iovec;

namespace corio::multiprocessing {

namespace detail {
struct tls_channel;
struct connection_tls;
/// The header of a message of n bytes as Python frames it, written to
/// h[0, 12); its length (4, or 12 past 2^31 - 1 bytes).
std::size_t frame_header(char* h, std::size_t n) noexcept;
}  // namespace detail

/// Python: multiprocessing.connection.Connection. Owns its fd (closed by
/// close() or the destructor). Move-only; one thread at a time.
class connection {
 public:
  using duration = std::chrono::duration<double>;

  /// A closed connection.
  connection() noexcept = default;
  /// Adopts `fd` (Python: Connection(handle, readable, writable)): a
  /// connected socket or a pipe end. std::invalid_argument for a negative fd
  /// or neither direction.
  connection(int fd, bool readable, bool writable);
  /// Adopts a read fd and a write fd (a duplex connection over two pipes,
  /// as pipe() makes them).
  struct detail_two_fds {};
  connection(int read_fd, int write_fd, detail_two_fds);
  connection(connection&& o) noexcept;
  connection& operator=(connection&& o) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  /// Python: fileno(): the fd to wait on for reading (a duplex pipe's read
  /// end). os_error("handle is closed") once closed.
  int fileno() const;
  /// The fd written to: fileno() but for a duplex pipe, whose write end it is.
  int write_fileno() const;
  /// Python: closed, readable, writable.
  bool closed() const noexcept { return fd_ < 0; }
  /// corio's addition: whether the connection is wrapped in TLS (a
  /// manager's connection with an ssl_context, managers.hpp).
  bool uses_tls() const noexcept { return tls_ != nullptr; }
  bool readable() const noexcept { return readable_; }
  bool writable() const noexcept { return writable_; }
  /// Python: close(). Twice is fine.
  void close() noexcept;
  /// Gives up the fd without closing it (Python: detach()).
  /// std::invalid_argument for a duplex pipe, which holds two, and for a
  /// connection in TLS, whose state the fd alone does not carry.
  int detach();

  /// Python: send_bytes(buf, offset, size): `buf[offset, offset+size)` as
  /// one message (size: to the end). std::invalid_argument when the range
  /// is outside buf (Python: ValueError).
  void send_bytes(std::string_view buf, std::size_t offset = 0, std::optional<std::size_t> size = std::nullopt);
  /// Python: recv_bytes(maxlength): the next message, waiting for it.
  /// eof_error when the other end is closed and nothing is left; a message
  /// longer than maxlength raises os_error("bad message length") and leaves
  /// the connection unreadable.
  std::string recv_bytes(std::optional<std::size_t> maxlength = std::nullopt);
  /// Python: recv_bytes_into(buf, offset): copies the next message into
  /// buf[offset...] and returns its length; buffer_too_short (holding the
  /// message) if it does not fit; std::invalid_argument for an offset past
  /// the end.
  std::size_t recv_bytes_into(std::span<char> buf, std::size_t offset = 0);
  /// corio's addition: calls f(view) with the next message read in place
  /// (no copy) and returns what f returns; the message is consumed when f
  /// returns or throws, and the view is valid only during the call. Errors
  /// as recv_bytes.
  template <class F>
  decltype(auto) recv_bytes_with(F&& f, std::optional<std::size_t> maxlength = std::nullopt) {
    const std::string_view m = next_message(maxlength);
    message_guard g{this};
    return std::forward<F>(f)(m);
  }
  /// Python: send(obj): `v` through the codec, as one message.
  template <class T>
  void send(const T& v) {
    std::string frame(kHeader, '\0');
    encode_into(frame, v);
    send_frame(frame);
  }
  /// Python: recv(): the next message, decoded as T (codec_error if it is
  /// not one; the message is consumed either way).
  template <class T>
  T recv() {
    const std::string_view m = next_message(std::nullopt);
    message_guard g{this};
    return decode<T>(m);
  }
  /// Python: poll(timeout=0): whether data (or the end of the stream) is
  /// there to read, waiting up to `timeout`; none: as long as needed; a
  /// negative timeout counts as 0.
  bool poll(std::optional<duration> timeout = duration::zero());

  /// recv_bytes() in a running loop.
  task<std::string> recv_bytes_async(std::optional<std::size_t> maxlength = std::nullopt);
  /// send_bytes() in a running loop; the task owns the bytes.
  task<void> send_bytes_async(std::string buf);
  /// send_bytes() of each message in order, written together (one system
  /// call where the socket takes them all) in a running loop. Not in
  /// Python, where each send_bytes() is its own write.
  task<void> send_bytes_async(std::vector<std::string> messages);
  /// recv<T>() in a running loop.
  template <class T>
  task<T> recv_async() {
    co_await fill_message_async(std::nullopt);
    const std::string_view m = buffered_message();
    message_guard g{this};
    co_return decode<T>(m);
  }
  /// send(v) in a running loop (encoded at the call).
  template <class T>
  task<void> send_async(const T& v) {
    std::string frame(kHeader, '\0');
    encode_into(frame, v);
    return send_frame_async(std::move(frame));
  }
  /// poll(timeout) in a running loop; none waits as long as needed.
  task<bool> poll_async(std::optional<duration> timeout = duration::zero());
  /// Whether bytes already received wait to be read (what poll() answers
  /// without a system call; false when only the fd may have more). Not in
  /// Python.
  bool buffered() const noexcept;

 private:
  friend struct detail::connection_tls;
  static constexpr std::size_t kHeader = 4;
  struct message_guard {
    connection* c;
    ~message_guard() { c->consume_message(); }
  };
  void check_open() const;
  void check_readable(const char* what) const;
  void check_writable(const char* what) const;
  // TLS: writes iov's bytes, blocking (connection_tls.hpp).
  void write_all_tls(const ::iovec* iov, int n);
  // Sends frame[kHeader...] as one message; the first kHeader bytes are
  // free for the length.
  void send_frame(std::string& frame);
  task<void> send_frame_async(std::string frame);
  task<void> send_frame_async(std::string frame, bool framed);
  // The next message, waiting; it stays buffered until consume_message().
  std::string_view next_message(std::optional<std::size_t> maxlength);
  task<void> fill_message_async(std::optional<std::size_t> maxlength);
  std::string_view buffered_message() const noexcept;
  void consume_message() noexcept;
  // How much of the buffer the next message takes, if it is all there;
  // throws for a message over maxlength.
  bool have_message(std::optional<std::size_t> maxlength);
  // Reads what is there into the buffer; false at the end of the stream.
  bool fill_blocking();
  // A read that never blocks: >0 bytes, 0 at the end, -EAGAIN if nothing.
  long fill_nowait();
  char* make_room(std::size_t want);

  int fd_ = -1;   // read from (or the only fd)
  int wfd_ = -1;  // written to: fd_, or a duplex pipe's write end
  bool readable_ = false;
  bool writable_ = false;
  bool socket_ = false;  // a socket: send/recv flags work
  bool bad_ = false;     // a message over maxlength was refused: unreadable
  bool eof_ = false;
  detail::tls_channel* tls_ = nullptr;  // owned; null without TLS
  bool tls_wants_write_ = false;         // a TLS read waits for room to write
  // Bytes read and not yet consumed: rbuf_[rpos_, rlen_).
  std::unique_ptr<char[]> rbuf_;
  std::size_t rcap_ = 0;
  std::size_t rlen_ = 0;
  std::size_t rpos_ = 0;
  std::size_t msg_begin_ = 0;  // the message next_message returned (payload)
  std::size_t msg_end_ = 0;    // 0: none
};

/// A connection crosses a process as an argument of a process being
/// started (Python: inheritance): with fork the child has its copy, with
/// spawn and forkserver its fd is passed along. Anywhere else (in a
/// message), or wrapped in TLS (its state lives in this process), it is a
/// codec_error. The parent's copy goes with the process's
/// target at start(), as Python's parent should close it (MP-27).
template <>
struct codec<connection> {
  static void encode(packer& p, const connection& c) {
    if (c.uses_tls()) throw codec_error("a connection wrapped in TLS cannot cross a process: its TLS state lives in this one");
    const int fd = c.fileno(), wfd = c.write_fileno();
    p.pack_array(4);
    codec<std::size_t>::encode(p, detail::share_fd(fd, "a connection"));
    if (wfd != fd) {
      codec<std::size_t>::encode(p, detail::share_fd(wfd, "a connection"));
    } else {
      p.pack_nil();
    }
    codec<bool>::encode(p, c.readable());
    codec<bool>::encode(p, c.writable());
  }
  static connection decode(const object& o) {
    detail::check_array<connection>(o, 4);
    const int fd = detail::received_fd(codec<std::size_t>::decode(o.via.array.ptr[0]), "a connection");
    if (o.via.array.ptr[1].type != msgpack::type::NIL) {
      const int wfd = detail::received_fd(codec<std::size_t>::decode(o.via.array.ptr[1]), "a connection");
      return connection(fd, wfd, connection::detail_two_fds{});
    }
    return connection(fd, codec<bool>::decode(o.via.array.ptr[2]), codec<bool>::decode(o.via.array.ptr[3]));
  }
};

/// Python: multiprocessing.Pipe(duplex=True): two connected connections.
/// Duplex: both read and write, over two pipes (Python uses a socketpair;
/// pipes are faster, and the messages are the same); otherwise (reader,
/// writer) over one pipe. Their fds are close-on-exec.
std::pair<connection, connection> pipe(bool duplex = true);

/// What wait() watches: a connection, or a raw fd (a process sentinel, a
/// socket, a pipe end).
using wait_object = std::variant<connection*, int>;

/// Python: multiprocessing.connection.wait(object_list, timeout): the
/// objects ready to read (connections with data or at their end, fds
/// readable or hung up), in the order given; an empty list after `timeout`
/// (none: no limit), at once for a zero or negative one.
std::vector<wait_object> wait(const std::vector<wait_object>& objects,
                              std::optional<connection::duration> timeout = std::nullopt);
/// wait() in a running loop.
task<std::vector<wait_object>> wait_async(std::vector<wait_object> objects,
                                          std::optional<connection::duration> timeout = std::nullopt);

}  // namespace corio::multiprocessing
