# Runs one example and checks what it printed (ctest label `examples`).
#   cmake -DEXE=prog [-DARGS="a;b"] -DEXPECTED=file.txt [-DMASK_IDS=ON] -P check_output.cmake
#     stdout must equal the file exactly; with MASK_IDS, after addresses
#     (0x55d0c1e2a2b0) became "0x..." and thread idents in threads' text forms
#     ("started 140234") "..."
#   cmake -DEXE=prog [-DARGS=...] -DORDER="first;second;..." -P check_output.cmake
#     each line must occur in stdout, in this order (for real-clock runs,
#     whose printed times vary with the machine's load)
# The example must also exit with status 0 and print nothing on stderr.
execute_process(COMMAND ${EXE} ${ARGS}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} ${ARGS} exited with ${rc}\n--- stdout\n${out}--- stderr\n${err}")
endif()
if(NOT err STREQUAL "")
  message(FATAL_ERROR "${EXE} ${ARGS} wrote to stderr:\n${err}")
endif()
if(MASK_IDS)
  string(REGEX REPLACE "0x[0-9a-f]+" "0x..." out "${out}")
  string(REGEX REPLACE "(started|stopped) [0-9]+\\)" "\\1 ...)" out "${out}")
  string(REGEX REPLACE "(started|stopped) daemon [0-9]+\\)" "\\1 daemon ...)" out "${out}")
endif()
if(DEFINED EXPECTED)
  file(READ ${EXPECTED} want)
  if(NOT out STREQUAL want)
    message(FATAL_ERROR "${EXE} ${ARGS}: output differs from ${EXPECTED}\n--- expected\n${want}--- got\n${out}")
  endif()
endif()
if(DEFINED ORDER)
  set(rest "${out}")
  foreach(piece IN LISTS ORDER)
    string(FIND "${rest}" "${piece}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${EXE} ${ARGS}: '${piece}' missing or out of order in:\n${out}")
    endif()
    string(LENGTH "${piece}" len)
    math(EXPR at "${at} + ${len}")
    string(SUBSTRING "${rest}" ${at} -1 rest)
  endforeach()
endif()
