# PTMInstall.cmake: `cmake --install build --prefix P`, the CMake package,
# ptm.pc and the Debian package (CPack).  Included last by the top-level
# CMakeLists.txt.
#
# The installed tree has the build tree's layout, which ptmcc finds
# relative to its own executable (/proc/self/exe): P/bin/ptmcc,
# P/lib/libptmcc_front.so (its front end), P/include/ptm.h, P/lib/libptm.a.
# So lib/ is P/lib, never a multiarch directory: ptmcc and its front end
# must stay beside each other wherever P is moved.
include(CMakePackageConfigHelpers)

install(TARGETS ptmcc ptm-trace RUNTIME DESTINATION bin)
install(TARGETS ptmcc_front LIBRARY DESTINATION lib)
install(TARGETS ptm ptm_sqlite ptm_jump ARCHIVE DESTINATION lib)
if(TARGET ptm-rules)
  install(TARGETS ptm-rules RUNTIME DESTINATION bin)
endif()
install(FILES ${PROJECT_BINARY_DIR}/include/ptm.h ${PROJECT_BINARY_DIR}/include/ptm_gen.h
              ${PROJECT_BINARY_DIR}/include/ptm_calls.def
        DESTINATION include)
# The default rules are built into libptm; the scripts are installed for
# reading and as a start for a project's own (.rules = "...", PTM_RULES).
install(FILES ${PROJECT_SOURCE_DIR}/lua-rules/default.lua ${PROJECT_SOURCE_DIR}/lua-rules/strict.lua
              ${PROJECT_SOURCE_DIR}/lua-rules/README.md
        DESTINATION share/ptm/rules)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/sandbox.md
        DESTINATION share/doc/ptm)

# What a program that links libptm without ptmcc needs, in the order
# ptmcc's own link uses (compiler/driver.c, add_link_libs): one list for
# PTMConfig.cmake and ptm.pc, so that they agree (e2e.install checks it).
set(PTM_PKG_ARCHIVES ptm_sqlite ptm ptm_jump)
set(PTM_PKG_DEP_LIBS ${PTM_LUA_DEPS} ${SECCOMP_LIBRARIES} ${JANSSON_LIBRARIES} pthread m)
list(REMOVE_DUPLICATES PTM_PKG_DEP_LIBS)
set(PTM_PKG_DEFINES PTM_RUNTIME=1)
# libptm's longjmp family must be the one shared libraries call too.
set(PTM_PKG_LINK_OPTIONS "-Wl,--export-dynamic-symbol=longjmp,--export-dynamic-symbol=_longjmp,--export-dynamic-symbol=siglongjmp,--export-dynamic-symbol=__longjmp_chk")
if(PTM_SANITIZE)
  # A sanitized libptm needs the sanitizer runtimes in every program.
  list(APPEND PTM_PKG_LINK_OPTIONS -fsanitize=address,undefined)
endif()

set(PTM_PC_LIBS "")
set(i 0)
foreach(a ${PTM_PKG_ARCHIVES})
  if(i EQUAL 2)
    foreach(d ${PTM_PKG_DEP_LIBS})
      string(APPEND PTM_PC_LIBS " -l${d}")
    endforeach()
  endif()
  string(APPEND PTM_PC_LIBS " -l${a}")
  math(EXPR i "${i} + 1")
endforeach()
string(STRIP "${PTM_PC_LIBS}" PTM_PC_LIBS)
set(PTM_PC_DEFINES "")
foreach(d ${PTM_PKG_DEFINES})
  string(APPEND PTM_PC_DEFINES "-D${d}")
endforeach()
string(JOIN " " PTM_PC_LINK_OPTIONS ${PTM_PKG_LINK_OPTIONS})
configure_file(${PROJECT_SOURCE_DIR}/cmake/ptm.pc.in ${PROJECT_BINARY_DIR}/ptm.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ptm.pc DESTINATION lib/pkgconfig)

set(PTM_CMAKEDIR lib/cmake/PTM)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/PTMConfig.cmake.in
  ${PROJECT_BINARY_DIR}/PTMConfig.cmake INSTALL_DESTINATION ${PTM_CMAKEDIR})
# 0.x: a minor version may break what 0.(x-1) promised.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/PTMConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/PTMConfig.cmake ${PROJECT_BINARY_DIR}/PTMConfigVersion.cmake
        DESTINATION ${PTM_CMAKEDIR})

include(${PROJECT_SOURCE_DIR}/cmake/PTMMan.cmake)
include(${PROJECT_SOURCE_DIR}/cmake/PTMPackage.cmake)
