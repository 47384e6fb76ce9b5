// Names of code addresses, for debug reports. Not for users.
#pragma once

#include <string>

namespace corio::detail {

// The demangled name of the function containing `addr`, from the dynamic
// symbol table or the object's own .symtab; empty if neither knows it
// (a stripped program).
std::string symbol_name(const void* addr);
// "object+0xoffset", which addr2line -e object 0xoffset turns into a line.
std::string code_location(const void* addr);

}  // namespace corio::detail
