// The one source of corio_test_pch, the target whose precompiled headers
// every test executable reuses (tests/CMakeLists.txt).
