// Names of code addresses for debug reports (which coroutine a task runs).
// dladdr knows only the dynamic symbol table, where an executable built
// without -rdynamic exports nothing; so the full ELF symbol table (.symtab)
// of the object holding the address is read too, once per object. Used only
// by reports, never on a hot path.
#include <corio/detail/symbolize.hpp>

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace corio::detail {

namespace {

struct elf_symbol {
  std::uintptr_t value;
  std::uintptr_t size;
  std::string name;
};

// The function symbols of one object, sorted by address; empty if it has no
// .symtab (stripped) or cannot be read.
std::vector<elf_symbol> read_symtab(const char* path) {
  std::vector<elf_symbol> out;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    ::close(fd);
    return out;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return out;
  const auto* base = static_cast<const unsigned char*>(map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const bool ok = std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
                  eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shoff + eh->e_shnum * sizeof(Elf64_Shdr) <= size;
  if (ok) {
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; ++i) {
      if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr& strs = sh[sh[i].sh_link];
      if (sh[i].sh_offset + sh[i].sh_size > size || strs.sh_offset + strs.sh_size > size) continue;
      const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
      const std::size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
      const char* names = reinterpret_cast<const char*>(base + strs.sh_offset);
      for (std::size_t k = 0; k < n; ++k) {
        if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC || syms[k].st_value == 0 || syms[k].st_name >= strs.sh_size)
          continue;
        out.push_back({syms[k].st_value, syms[k].st_size, names + syms[k].st_name});
      }
    }
  }
  ::munmap(map, size);
  std::sort(out.begin(), out.end(), [](const elf_symbol& a, const elf_symbol& b) { return a.value < b.value; });
  return out;
}

std::string demangle(const char* mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = (status == 0 && d) ? d : mangled;
  std::free(d);
  return name;
}

}  // namespace

std::string symbol_name(const void* addr) {
  Dl_info info{};
  if (addr == nullptr || ::dladdr(addr, &info) == 0) return {};
  if (info.dli_sname) return demangle(info.dli_sname);
  if (!info.dli_fname || !info.dli_fbase) return {};
  static std::mutex mu;
  static std::map<std::string, std::vector<elf_symbol>> tables;
  std::lock_guard lk(mu);
  auto it = tables.find(info.dli_fname);
  if (it == tables.end()) it = tables.emplace(info.dli_fname, read_symtab(info.dli_fname)).first;
  const auto& syms = it->second;
  // Position-independent objects (every PIE executable and shared library)
  // list addresses relative to where they are loaded.
  const auto* eh = static_cast<const Elf64_Ehdr*>(info.dli_fbase);
  std::uintptr_t a = reinterpret_cast<std::uintptr_t>(addr);
  if (eh->e_type == ET_DYN) a -= reinterpret_cast<std::uintptr_t>(info.dli_fbase);
  auto up = std::upper_bound(syms.begin(), syms.end(), a, [](std::uintptr_t v, const elf_symbol& s) { return v < s.value; });
  if (up == syms.begin()) return {};
  --up;
  if (a >= up->value + std::max<std::uintptr_t>(up->size, 1)) return {};
  return demangle(up->name.c_str());
}

std::string code_location(const void* addr) {
  Dl_info info{};
  char buf[160];
  if (addr && ::dladdr(addr, &info) && info.dli_fname && info.dli_fbase) {
    const char* slash = std::strrchr(info.dli_fname, '/');
    std::snprintf(buf, sizeof buf, "%s+%#zx", slash ? slash + 1 : info.dli_fname,
                  static_cast<std::size_t>(static_cast<const char*>(addr) - static_cast<const char*>(info.dli_fbase)));
  } else {
    std::snprintf(buf, sizeof buf, "%p", addr);
  }
  return buf;
}

}  // namespace corio::detail
