// Which sanitizer a test is built with, for the few tests that must behave
// differently under one. GCC defines __SANITIZE_THREAD__, clang answers
// __has_feature(thread_sanitizer).
#pragma once

#if defined(__SANITIZE_THREAD__)
#define CORIO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORIO_TEST_TSAN 1
#endif
#endif
#ifndef CORIO_TEST_TSAN
#define CORIO_TEST_TSAN 0
#endif

namespace corio_test {

/// Built with ThreadSanitizer.
inline constexpr bool under_tsan = CORIO_TEST_TSAN != 0;

}  // namespace corio_test
