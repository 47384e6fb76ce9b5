// The W5 echo handler, written as an asyncio user would write it: read ->
// write -> drain until EOF. Shared by the echo server and the idle
// connection benchmark, so both measure the same per-connection state.
#pragma once

#include <corio/os_errors.hpp>
#include <corio/streams.hpp>

#include <string>

namespace bench {

// A client that resets its connection (echo_load does, when it stops) ends
// the echo quietly.
inline corio::task<void> echo_read(corio::stream_reader r, corio::stream_writer w) {
  try {
    for (;;) {
      std::string data = co_await r.read(65536);
      if (data.empty()) break;
      w.write(data);
      co_await w.drain();
    }
  } catch (const corio::connection_error&) {
  }
}

}  // namespace bench
