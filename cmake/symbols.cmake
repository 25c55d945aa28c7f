# cmake -DNM=nm -DIN=lib.a -DOUT=list -P symbols.cmake
# Writes the names of the global symbols IN defines, one a line: the
# symbols objcopy --localize-symbols makes local.
execute_process(COMMAND ${NM} -g --defined-only --format=posix ${IN}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} ${IN} failed")
endif()
string(REGEX MATCHALL "(^|\n)[^ \n:]+ [A-Z] " lines "${out}")
set(names "")
foreach(l ${lines})
  string(REGEX REPLACE "^\n?([^ ]+) .*" "\\1" name "${l}")
  string(APPEND names "${name}\n")
endforeach()
file(WRITE ${OUT} "${names}")
