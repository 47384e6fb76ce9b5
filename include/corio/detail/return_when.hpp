// When wait() returns; shared by asyncio.wait and concurrent.futures.wait,
// which in Python are the same three constants.
#pragma once

namespace corio {

/// Python: asyncio.FIRST_COMPLETED / FIRST_EXCEPTION / ALL_COMPLETED (the
/// constants of concurrent.futures, re-exported by asyncio).
enum class return_when { first_completed, first_exception, all_completed };
inline constexpr return_when first_completed = return_when::first_completed;
inline constexpr return_when first_exception = return_when::first_exception;
inline constexpr return_when all_completed = return_when::all_completed;

}  // namespace corio
