// Compiler and build switches shared by every corio header. Not for users.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define CORIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define CORIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CORIO_NOINLINE __attribute__((noinline))
#define CORIO_ALWAYS_INLINE inline __attribute__((always_inline))
// The loop's thread-local state is read on every resume; initial-exec keeps the
// access a single %fs-relative load even when corio is built as a shared library.
#define CORIO_TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define CORIO_LIKELY(x) (x)
#define CORIO_UNLIKELY(x) (x)
#define CORIO_NOINLINE
#define CORIO_ALWAYS_INLINE inline
#define CORIO_TLS_MODEL
#endif

// Under AddressSanitizer the frame pool steps aside so that every coroutine
// frame is a separate malloc block and use-after-free is caught.
#if defined(__SANITIZE_ADDRESS__)
#define CORIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORIO_ASAN 1
#endif
#endif
#ifndef CORIO_ASAN
#define CORIO_ASAN 0
#endif
