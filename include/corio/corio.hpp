// The whole of corio: the asyncio layer (Python: `import asyncio`), the
// threading and queue modules (corio::threading), concurrent.futures
// (corio::futures), the subprocess module (corio::subprocess),
// multiprocessing (corio::multiprocessing) and generators, plain and async. One header per concept;
// this umbrella holds no code.
#pragma once

#include <corio/any_future.hpp>
#include <corio/async_generator.hpp>
#include <corio/contextvars.hpp>
#include <corio/datagram.hpp>
#include <corio/events.hpp>
#include <corio/exceptions.hpp>
#include <corio/futures.hpp>
#include <corio/gather.hpp>
#include <corio/generator.hpp>
#include <corio/getaddrinfo.hpp>
#include <corio/locks.hpp>
#include <corio/memory.hpp>
#include <corio/os_errors.hpp>
#include <corio/queues.hpp>
#include <corio/runners.hpp>
#include <corio/server.hpp>
#include <corio/shield.hpp>
#include <corio/sock_ops.hpp>
#include <corio/ssl.hpp>
#include <corio/socket.hpp>
#include <corio/stream_reader.hpp>
#include <corio/stream_writer.hpp>
#include <corio/streams.hpp>
#include <corio/subprocess.hpp>
#include <corio/taskgroups.hpp>
#include <corio/tasks.hpp>
#include <corio/threads.hpp>
#include <corio/timeouts.hpp>
#include <corio/wait.hpp>

#include <corio/futures/executor.hpp>
#include <corio/futures/future.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/futures/wait.hpp>

#include <corio/multiprocessing/shared_handle.hpp>
#include <corio/multiprocessing/shared_memory.hpp>
#include <corio/multiprocessing/sharedctypes.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/subprocess/errors.hpp>
#include <corio/subprocess/options.hpp>
#include <corio/subprocess/pipe_file.hpp>
#include <corio/subprocess/popen.hpp>
#include <corio/subprocess/run.hpp>

#include <corio/threading/barrier.hpp>
#include <corio/threading/condition.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/local.hpp>
#include <corio/threading/lock.hpp>
#include <corio/threading/queue.hpp>
#include <corio/threading/rlock.hpp>
#include <corio/threading/semaphore.hpp>
#include <corio/threading/simple_queue.hpp>
#include <corio/threading/thread.hpp>
#include <corio/threading/timer.hpp>
