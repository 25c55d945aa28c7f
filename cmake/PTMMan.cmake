# PTMMan.cmake: the manual pages, docs/man/<name>.<section>.scd, turned
# into roff by scdoc (Debian's package `scdoc`, installed by
# scripts/install-deps.sh) into <build>/share/man/man<section>/, and
# installed.  A build without scdoc has no manual pages, and says so.
find_program(SCDOC scdoc)
if(NOT SCDOC)
  message(STATUS "scdoc not found: the manual pages are not built (apt-get install scdoc)")
  return()
endif()
file(GLOB ptm_man_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.scd)
set(ptm_man_pages "")
foreach(src ${ptm_man_sources})
  get_filename_component(page ${src} NAME_WLE)
  string(REGEX MATCH "[0-9]$" section "${page}")
  set(out ${PROJECT_BINARY_DIR}/share/man/man${section}/${page})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DSCDOC=${SCDOC} -DIN=${src} -DOUT=${out}
            -DVERSION=${PROJECT_VERSION}
            -P ${PROJECT_SOURCE_DIR}/cmake/scdoc.cmake
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/cmake/scdoc.cmake
    COMMENT "Manual page ${page}")
  list(APPEND ptm_man_pages ${out})
  install(FILES ${out} DESTINATION share/man/man${section})
endforeach()
add_custom_target(man ALL DEPENDS ${ptm_man_pages})
