// What the submitter and the worker of the task queue share: stream
// entries as they come from Redis, ids, durations in milliseconds.
// Internal to src/distributed.
#pragma once

#include <corio/distributed/task_queue.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::distributed::detail {
inline std::string random_hex(std::size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xff);
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

inline long long ms_of(duration d) {
  return std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Stored results (store_results) go to one hash per time bucket, a
// quarter of result_ttl wide, <name>:results:<bucket>, field the task id:
// per result Redis then stores two strings in a hash rather than a key and
// its expiry (docs/design.md). A bucket's hash expires result_ttl after the
// bucket's end, so each result lives between result_ttl and 1.25 times it.
inline constexpr long long kResultBucketsPerTtl = 4;

inline long long result_bucket_width_ms(duration ttl) { return std::max(1LL, ms_of(ttl) / kResultBucketsPerTtl); }

struct result_bucket {
  long long number;         // the clock's milliseconds since the epoch / the width
  long long expires_in_ms;  // from `now` to result_ttl after the bucket's end
};

inline result_bucket result_bucket_of(duration ttl, std::chrono::system_clock::time_point now) {
  const long long width = result_bucket_width_ms(ttl);
  const long long t =
      std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  const long long number = t / width;
  return {number, (number + 1) * width + ms_of(ttl) - t};
}

// The fields of one stream entry ([id, [f1, v1, f2, v2, ...]]): a handful,
// so a flat list searched in order, with no allocation beyond the strings.
struct entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  // A repeated field: the last counts.
  const std::string* get(std::string_view k) const {
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
      if (it->first == k) return &it->second;
    }
    return nullptr;
  }
  std::string* get(std::string_view k) { return const_cast<std::string*>(std::as_const(*this).get(k)); }
};

// Entries of a stream reply, its strings moved out; an entry whose shape is
// wrong keeps its id (if it has one) and no fields, so that it is
// dead-lettered, not lost.
inline std::vector<entry> parse_entries(redis_reply&& list) {
  std::vector<entry> out;
  (void)list.as_array();  // std::logic_error if it is not one
  out.reserve(list.elements.size());
  for (redis_reply& e : list.elements) {
    entry en;
    if (e.type != redis_reply::kind::array || e.elements.empty() ||
        e.elements[0].type != redis_reply::kind::string)
      continue;
    en.id = std::move(e.elements[0].str);
    if (e.elements.size() == 2 && e.elements[1].type == redis_reply::kind::array) {
      auto& kv = e.elements[1].elements;
      en.fields.reserve(kv.size() / 2);
      // Kept as they come, repeats included (get() takes the last): a
      // reply entry carries a field per result, hundreds of them.
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2)
        en.fields.emplace_back(std::move(kv[i].str), std::move(kv[i + 1].str));
    }
    out.push_back(std::move(en));
  }
  return out;
}

// The entries of the first stream of an XREAD / XREADGROUP reply
// ([[key, [entries...]]]), taken out of it.
inline std::vector<entry> stream_entries(redis_reply& r) {
  return parse_entries(std::move(const_cast<redis_reply&>(r[0][1])));  // r[0][1] checks the shape
}

inline std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const base_exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace corio::distributed::detail
