#include <corio/detail/tls_layer.hpp>
#include <corio/stream_writer.hpp>

#include <stdexcept>

namespace corio {

namespace detail {

bool drain_awaiter::await_ready() const {
  if (reader_core* r = t->reader(); r && r->exception()) std::rethrow_exception(r->exception());
  if (t->is_closing()) {
    // ST-16: nothing written now will be sent.
    if (t->lost()) std::rethrow_exception(t->lost());
    throw connection_reset_error(ECONNRESET, "Connection lost");
  }
  return !t->write_paused();
}

}  // namespace detail

detail::stream_transport& stream_writer::t() const {
  if (!t_) throw std::invalid_argument("corio: stream_writer: an empty handle (moved from)");
  return *t_;
}

std::any stream_writer::get_extra_info(std::string_view name, std::any fallback) const {
  if (!t_) return fallback;
  if (name == "peername") return t_->peername();
  if (name == "sockname") return t_->sockname();
  if (name == "socket") return t_->sock().fileno();
  if (detail::tls_layer* tls = t_->tls())
    if (std::optional<std::any> v = tls->extra_info(name)) return std::move(*v);
  return fallback;
}

void stream_writer::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  // Python's _set_write_buffer_limits defaults.
  std::size_t h, l;
  if (!high) {
    h = low ? 4 * *low : detail::stream_transport::default_high_water;
  } else {
    h = *high;
  }
  l = low ? *low : h / 4;
  t().set_write_buffer_limits(h, l);
}

}  // namespace corio
