// A client and a server that each read and write in separate tasks, and
// stop both as soon as either fails, with wait(..., first_exception):
//
//   done, pending = await asyncio.wait([reader_task, writer_task],
//                                      return_when=asyncio.FIRST_EXCEPTION)
//   for t in pending: t.cancel()
//
// The server numbers every line it receives and answers it; the client
// sends lines from one task and prints answers in another. When the client
// has sent its last line it shuts its sending side; the server's reader sees
// EOF and raises incomplete_read_error, which ends the server's connection;
// the client's reader then sees the server close, and the client stops too.
//
// Usage: stream_reader_writer_tasks
#include <corio/corio.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

// Reads lines into a queue until the peer stops sending.
corio::task<> read_lines(corio::stream_reader& reader, corio::queue<std::string>& lines, const char* who) {
  for (;;) {
    std::string line = co_await reader.readuntil("\n");  // incomplete_read_error at EOF
    line.pop_back();
    std::printf("%s got: %s\n", who, line.c_str());
    co_await lines.put(std::move(line));
  }
}

corio::task<> answer_lines(corio::stream_writer& writer, corio::queue<std::string>& lines) {
  for (int n = 1;; ++n) {
    std::string line = co_await lines.get();
    std::string answer = "#";  // built with += (GCC 12 warns wrongly on "x" + std::string)
    answer += std::to_string(n);
    answer += ' ';
    answer += line;
    answer += '\n';
    writer.write(answer);
    co_await writer.drain();
  }
}

// Runs two tasks until the first raises; cancels the other; reports.
corio::task<> until_first_failure(corio::task<> a, corio::task<> b, const char* who) {
  std::vector<corio::task<>> both{corio::create_task(std::move(a)), corio::create_task(std::move(b))};
  auto [done, pending] = co_await corio::wait(both, corio::return_when::first_exception);
  for (auto& t : pending) t.cancel();
  for (auto& t : done) {
    try {
      co_await t;
    } catch (const corio::incomplete_read_error& e) {
      std::printf("%s: peer finished (%s)\n", who, e.what());
    }
  }
  for (auto& t : pending) {
    try {
      co_await t;
    } catch (const corio::cancelled_error&) {
    }
  }
}

corio::task<> serve(corio::stream_reader reader, corio::stream_writer writer) {
  corio::queue<std::string> lines;
  co_await until_first_failure(read_lines(reader, lines, "server"), answer_lines(writer, lines), "server");
  writer.close();
  co_await writer.wait_closed();
}

corio::task<> send_lines(corio::stream_writer& writer) {
  for (const char* word : {"alpha", "beta", "gamma"}) {
    writer.write(std::string(word) + "\n");
    co_await writer.drain();
    co_await corio::sleep(std::chrono::milliseconds(10));
  }
  writer.write_eof();  // no more lines: the server's reader sees EOF
  co_await corio::sleep(std::chrono::hours(1));  // until cancelled
}

corio::task<> print_answers(corio::stream_reader& reader) {
  for (;;) {
    std::string line = co_await reader.readuntil("\n");
    line.pop_back();
    std::printf("client got: %s\n", line.c_str());
  }
}

corio::task<> main_task() {
  corio::server server = co_await corio::start_server(serve, "127.0.0.1", 0);
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", server.sockets().at(0).getsockname().port());
  co_await until_first_failure(send_lines(writer), print_answers(reader), "client");
  server.close();
  co_await server.wait_closed();
  std::printf("done\n");
}

}  // namespace

int main() { corio::run(main_task()); }
