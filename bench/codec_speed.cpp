// The codec's speed (docs/benchmarks.md, "The codec"): encode and decode
// of a few shapes, each N times, single-threaded. Reported per operation,
// with the encoded size.
#include "bench_util.hpp"

#include <corio/multiprocessing/codec.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

struct order {
  std::int64_t id = 0;
  double price = 0;
  std::string symbol;
  std::vector<std::int32_t> lots;
  CORIO_CODEC(id, price, symbol, lots)
};

template <class T>
void measure(const char* shape, const T& v, std::int64_t n) {
  std::string buf;
  bench::stopwatch enc;
  for (std::int64_t i = 0; i < n; ++i) {
    buf.clear();
    mp::encode_into(buf, v);
    bench::escape(buf);
  }
  const double enc_s = enc.cpu_s();
  std::size_t sink = 0;
  bench::stopwatch dec;
  for (std::int64_t i = 0; i < n; ++i) {
    const T back = mp::decode<T>(buf);
    bench::escape(back);
    ++sink;
  }
  const double dec_s = dec.cpu_s();
  bench::check(sink == static_cast<std::size_t>(n), "every decode ran");
  bench::line("CODEC " + std::string(shape))
      .str("impl", "corio:msgpack-cxx")
      .num("N", n)
      .num("encode_ns", enc_s * 1e9 / double(n))
      .num("decode_ns", dec_s * 1e9 / double(n))
      .num("bytes", static_cast<std::int64_t>(buf.size()))
      .print();
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 1000000);
  measure("int", std::int64_t{123456}, n);
  measure("struct", order{42, 101.25, "ACME", {100, 200, 300}}, n);
  measure("string_1KiB", std::string(1024, 'x'), n);
  std::vector<std::int64_t> ints(1000);
  for (std::size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<std::int64_t>(i * 7919);
  measure("vector_1000_ints", ints, n / 100);
  std::map<std::string, double> m;
  for (int i = 0; i < 100; ++i) m["key" + std::to_string(i)] = i * 0.5;
  measure("map_100_str_double", m, n / 100);
}
