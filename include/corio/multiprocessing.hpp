// Python: the multiprocessing module: processes and their start methods,
// pipes and connections, the codec for what crosses a process, shared
// values, arrays and memory, and process-shared locks. Not part of
// corio.hpp (the codec brings in msgpack-cxx); include this one.
#pragma once

#include <corio/multiprocessing/address.hpp>
#include <corio/multiprocessing/authentication.hpp>
#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/connection.hpp>
#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/multiprocessing/listener.hpp>
#include <corio/multiprocessing/managers.hpp>
#include <corio/multiprocessing/pool.hpp>
#include <corio/multiprocessing/process.hpp>
#include <corio/multiprocessing/proxy.hpp>
#include <corio/multiprocessing/queues.hpp>
#include <corio/multiprocessing/shared_memory.hpp>
#include <corio/multiprocessing/sharedctypes.hpp>
#include <corio/multiprocessing/synchronize.hpp>
