// Python: the multiprocessing module: processes and their start methods,
// pipes and connections, and the codec for what crosses a process. Not
// part of corio.hpp (the codec brings in msgpack-cxx); include this one.
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/connection.hpp>
#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/multiprocessing/pool.hpp>
#include <corio/multiprocessing/process.hpp>
