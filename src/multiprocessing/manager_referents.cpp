// The built-in shared objects of a sync manager (MG-10, MG-12, MG-13), kept
// type-erased: each value is its canonical codec encoding, so a key is a
// dict key by its bytes and the server needs none of the clients' types.
// KeyError, IndexError and AttributeError come back as std::out_of_range,
// ValueError as std::invalid_argument (docs/python-mapping.md).
#include "manager_server.hpp"

#include <algorithm>
#include <list>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace corio::multiprocessing::detail {

namespace {

// A value as text for an error message (msgpack's JSON-like form).
std::string show(const object& o) {
  std::ostringstream os;
  os << o;
  std::string s = os.str();
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

// A Python index (negative counts from the end) into a sequence of n.
std::size_t index_of(const call_args& a, std::size_t i, std::size_t n, const char* what) {
  const auto k = a.get<std::int64_t>(i);
  const std::int64_t m = static_cast<std::int64_t>(n);
  const std::int64_t j = k < 0 ? k + m : k;
  if (j < 0 || j >= m) throw std::out_of_range(std::string(what) + " index out of range: " + std::to_string(k));
  return static_cast<std::size_t>(j);
}

std::vector<const std::string*> pointers(const std::vector<std::string>& v) {
  std::vector<const std::string*> out;
  out.reserve(v.size());
  for (const auto& s : v) out.push_back(&s);
  return out;
}

// The members of an array argument, each as its encoding.
std::vector<std::string> members(const object& o, const char* what) {
  if (o.type != msgpack::type::ARRAY) machinery_error(std::string(what) + ": expected an array");
  std::vector<std::string> out;
  out.reserve(o.via.array.size);
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    std::string b;
    codec_writer w(b);
    packer p(w);
    p.pack(o.via.array.ptr[i]);
    out.push_back(std::move(b));
  }
  return out;
}

// -- dict ------------------------------------------------------------------------------

class dict_referent final : public referent {
 public:
  explicit dict_referent(const call_args& a) {
    a.expect("dict", 0, 1);
    if (a.size() == 1) update(a[0]);
  }

  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "__getitem__") {
      a.expect(m, 1);
      out.set_raw(lookup(a, 0)->second);
    } else if (m == "__setitem__") {
      a.expect(m, 2);
      set(a.bytes(0), a.bytes(1));
    } else if (m == "__delitem__") {
      a.expect(m, 1);
      const auto it = index_.find(a.bytes(0));
      if (it == index_.end()) missing(a[0]);
      items_.erase(it->second);
      index_.erase(it);
    } else if (m == "__contains__") {
      a.expect(m, 1);
      out.set(index_.count(a.bytes(0)) != 0);
    } else if (m == "__len__") {
      a.expect(m, 0);
      out.set(items_.size());
    } else if (m == "get") {
      a.expect(m, 2);
      const auto it = index_.find(a.bytes(0));
      out.set_raw(it == index_.end() ? a.bytes(1) : it->second->second);
    } else if (m == "find") {  // get(k) without a default: [] or [value]
      a.expect(m, 1);
      const auto it = index_.find(a.bytes(0));
      if (it == index_.end()) {
        out.set_array({});
      } else {
        out.set_array({&it->second->second});
      }
    } else if (m == "pop") {
      a.expect(m, 1, 2);
      const auto it = index_.find(a.bytes(0));
      if (it == index_.end()) {
        if (a.size() == 1) missing(a[0]);
        out.set_raw(a.bytes(1));
      } else {
        out.set_raw(it->second->second);
        items_.erase(it->second);
        index_.erase(it);
      }
    } else if (m == "setdefault") {
      a.expect(m, 2);
      std::string k = a.bytes(0);
      const auto it = index_.find(k);
      if (it != index_.end()) {
        out.set_raw(it->second->second);
      } else {
        std::string v = a.bytes(1);
        out.set_raw(v);
        set(std::move(k), std::move(v));
      }
    } else if (m == "keys" || m == "values") {
      a.expect(m, 0);
      std::vector<const std::string*> v;
      v.reserve(items_.size());
      for (const auto& kv : items_) v.push_back(m == "keys" ? &kv.first : &kv.second);
      out.set_array(v);
    } else if (m == "items") {
      a.expect(m, 0);
      std::string s;
      {
        codec_writer w(s);
        packer p(w);
        p.pack_array(static_cast<std::uint32_t>(items_.size()));
      }
      for (const auto& kv : items_) {
        s += '\x92';
        s += kv.first;
        s += kv.second;
      }
      out.set_raw(s);
    } else if (m == "update") {
      a.expect(m, 1);
      update(a[0]);
    } else if (m == "clear") {
      a.expect(m, 0);
      items_.clear();
      index_.clear();
    } else {
      no_such_method("dict", m);
    }
    return true;
  }

 private:
  using list_t = std::list<std::pair<std::string, std::string>>;

  list_t::iterator lookup(const call_args& a, std::size_t i) {
    const auto it = index_.find(a.bytes(i));
    if (it == index_.end()) missing(a[i]);
    return it->second;
  }
  [[noreturn]] static void missing(const object& k) { throw std::out_of_range("KeyError: " + show(k)); }

  void set(std::string k, std::string v) {
    const auto it = index_.find(k);
    if (it != index_.end()) {
      it->second->second = std::move(v);
      return;
    }
    items_.emplace_back(std::move(k), std::move(v));
    auto last = std::prev(items_.end());
    index_.emplace(last->first, last);
  }

  // From an array of [key, value] pairs.
  void update(const object& o) {
    if (o.type != msgpack::type::ARRAY) machinery_error("dict.update: expected an array of [key, value]");
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
      const object& kv = o.via.array.ptr[i];
      if (kv.type != msgpack::type::ARRAY || kv.via.array.size != 2)
        machinery_error("dict.update: expected an array of [key, value]");
      const call_args pair(kv);
      set(pair.bytes(0), pair.bytes(1));
    }
  }

  list_t items_;  // in insertion order, as Python's dict
  std::unordered_map<std::string, list_t::iterator> index_;
};

// -- list and array ----------------------------------------------------------------------

class list_referent final : public referent {
 public:
  list_referent(const call_args& a, bool fixed) : fixed_(fixed) {
    a.expect(fixed ? "array" : "list", 0, 1);
    if (a.size() == 1) items_ = members(a[0], fixed ? "array" : "list");
  }

  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    const char* what = fixed_ ? "array" : "list";
    if (m == "__getitem__") {
      a.expect(m, 1);
      out.set_raw(items_[index_of(a, 0, items_.size(), what)]);
    } else if (m == "__setitem__") {
      a.expect(m, 2);
      items_[index_of(a, 0, items_.size(), what)] = a.bytes(1);
    } else if (m == "__len__") {
      a.expect(m, 0);
      out.set(items_.size());
    } else if (m == "copy") {
      a.expect(m, 0);
      out.set_array(pointers(items_));
    } else if (fixed_) {
      no_such_method(what, m);
    } else if (m == "__delitem__") {
      a.expect(m, 1);
      items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(index_of(a, 0, items_.size(), what)));
    } else if (m == "__contains__") {
      a.expect(m, 1);
      out.set(std::find(items_.begin(), items_.end(), a.bytes(0)) != items_.end());
    } else if (m == "append") {
      a.expect(m, 1);
      items_.push_back(a.bytes(0));
    } else if (m == "extend") {
      a.expect(m, 1);
      for (std::string& v : members(a[0], "list.extend")) items_.push_back(std::move(v));
    } else if (m == "insert") {
      a.expect(m, 2);
      // Python clamps an insert position to the list.
      const std::int64_t n = static_cast<std::int64_t>(items_.size());
      std::int64_t k = a.get<std::int64_t>(0);
      if (k < 0) k = std::max<std::int64_t>(0, k + n);
      k = std::min(k, n);
      items_.insert(items_.begin() + k, a.bytes(1));
    } else if (m == "pop") {
      a.expect(m, 0, 1);
      if (items_.empty()) throw std::out_of_range("pop from empty list");
      const std::size_t i = a.size() == 0 ? items_.size() - 1 : index_of(a, 0, items_.size(), "pop");
      out.set_raw(items_[i]);
      items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (m == "remove" || m == "index") {
      a.expect(m, 1);
      const auto it = std::find(items_.begin(), items_.end(), a.bytes(0));
      if (it == items_.end()) throw std::invalid_argument("list." + std::string(m) + "(x): x not in list: " + show(a[0]));
      if (m == "remove") {
        items_.erase(it);
      } else {
        out.set(static_cast<std::size_t>(it - items_.begin()));
      }
    } else if (m == "count") {
      a.expect(m, 1);
      out.set(static_cast<std::size_t>(std::count(items_.begin(), items_.end(), a.bytes(0))));
    } else if (m == "reverse") {
      a.expect(m, 0);
      std::reverse(items_.begin(), items_.end());
    } else if (m == "clear") {
      a.expect(m, 0);
      items_.clear();
    } else {
      no_such_method(what, m);
    }
    return true;
  }

 private:
  std::vector<std::string> items_;
  bool fixed_;
};

// -- value and namespace ------------------------------------------------------------------

class value_referent final : public referent {
 public:
  explicit value_referent(const call_args& a) {
    a.expect("value", 1);
    v_ = a.bytes(0);
  }
  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "get") {
      a.expect(m, 0);
      out.set_raw(v_);
    } else if (m == "set") {
      a.expect(m, 1);
      v_ = a.bytes(0);
    } else {
      no_such_method("value", m);
    }
    return true;
  }

 private:
  std::string v_;
};

class namespace_referent final : public referent {
 public:
  explicit namespace_referent(const call_args& a) { a.expect("namespace", 0); }
  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "__getattribute__") {
      a.expect(m, 1);
      const auto it = attrs_.find(a.get<std::string>(0));
      if (it == attrs_.end()) missing(a);
      out.set_raw(it->second);
    } else if (m == "__setattr__") {
      a.expect(m, 2);
      attrs_.insert_or_assign(a.get<std::string>(0), a.bytes(1));
    } else if (m == "__delattr__") {
      a.expect(m, 1);
      if (attrs_.erase(a.get<std::string>(0)) == 0) missing(a);
    } else if (m == "__contains__") {
      a.expect(m, 1);
      out.set(attrs_.count(a.get<std::string>(0)) != 0);
    } else if (m == "__dir__") {
      a.expect(m, 0);
      std::vector<std::string> names;
      for (const auto& kv : attrs_) names.push_back(kv.first);
      out.set(names);
    } else {
      no_such_method("namespace", m);
    }
    return true;
  }

 private:
  [[noreturn]] static void missing(const call_args& a) {
    throw std::out_of_range("AttributeError: 'Namespace' object has no attribute '" + a.get<std::string>(0) + "'");
  }
  std::map<std::string, std::string> attrs_;  // sorted, as repr lists them
};

}  // namespace

std::unique_ptr<referent> make_builtin(std::string_view type_id, const call_args& a) {
  if (type_id == "dict") return std::make_unique<dict_referent>(a);
  if (type_id == "list") return std::make_unique<list_referent>(a, false);
  if (type_id == "array") return std::make_unique<list_referent>(a, true);
  if (type_id == "value") return std::make_unique<value_referent>(a);
  if (type_id == "namespace") return std::make_unique<namespace_referent>(a);
  return make_sync_builtin(type_id, a);
}

}  // namespace corio::multiprocessing::detail
