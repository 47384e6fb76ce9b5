// The whole of corio's asyncio layer (Python: `import asyncio`).
// One header per concept; this umbrella holds no code.
#pragma once

#include <corio/contextvars.hpp>
#include <corio/events.hpp>
#include <corio/exceptions.hpp>
#include <corio/futures.hpp>
#include <corio/gather.hpp>
#include <corio/locks.hpp>
#include <corio/queues.hpp>
#include <corio/runners.hpp>
#include <corio/shield.hpp>
#include <corio/taskgroups.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>
#include <corio/wait.hpp>
