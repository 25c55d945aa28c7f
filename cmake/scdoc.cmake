# cmake -DSCDOC=scdoc -DIN=page.1.scd -DOUT=page.1 -DVERSION=x.y -P scdoc.cmake
# Runs scdoc (stdin to stdout) on IN with @VERSION@ replaced; a failure is
# a build error naming the page.
cmake_minimum_required(VERSION 3.20)
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
file(READ ${IN} text)
string(REPLACE "@VERSION@" "${VERSION}" text "${text}")
file(WRITE ${OUT}.scd "${text}")
execute_process(COMMAND ${SCDOC} INPUT_FILE ${OUT}.scd OUTPUT_FILE ${OUT}.tmp
                ERROR_VARIABLE err RESULT_VARIABLE rc)
file(REMOVE ${OUT}.scd)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "scdoc ${IN}: ${err}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
