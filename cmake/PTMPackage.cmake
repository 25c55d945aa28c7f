# PTMPackage.cmake: the Debian package, `cpack -G DEB` in the build
# directory (after the build).  Installed under /usr with the layout of
# PTMInstall.cmake.  Depends: the shared libraries of ptmcc, its front end
# and ptm-trace (dpkg-shlibdeps: libc6, libjansson4, libclang1-19,
# libllvm19, liblua5.4-0), plus what the programs ptmcc builds need at
# their compile and link steps: the backend clang-19 (with its resource
# directory) and the -dev packages of the libraries libptm.a needs
# (libseccomp, jansson; libsqlite3 when a program's mirror calls SQLite,
# which such a program links anyway).  libptm.a carries its own Lua, so no
# Lua package is needed by the programs.
set(PTM_PACKAGE_MAINTAINER "PTM developers <ptm@invalid>" CACHE STRING
    "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_NAME ptm)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "ptmcc, a C compiler driver that rewrites functions marked PTM_TRANSACTION\ninto a mirror, a primary and a wrapper; libptm, the runtime that runs the\nmirror first, scores its failure probability with Lua rules and diverts\nor retries; ptm-trace; the CMake package, ptm.pc and the manual pages.")
set(CPACK_PACKAGE_CONTACT "${PTM_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PTM_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps finds libclang-19 and libLLVM-19 through the front end's
# RUNPATH; this says where, should it not.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${LLVM_LIBDIR})
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "clang-19, libclang-common-19-dev, libllvm19, libc6-dev, libseccomp-dev, libjansson-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libsqlite3-dev, ccache")
# PTM_HISTORY=redis:// dlopens hiredis by the soname found at build time
# (runtime/store_redis.c): its package, libhiredis.so.0.14 -> libhiredis0.14.
if(PTM_HIREDIS_SONAME MATCHES "^libhiredis\\.so\\.(.+)$")
  string(APPEND CPACK_DEBIAN_PACKAGE_SUGGESTS ", libhiredis${CMAKE_MATCH_1}")
endif()
include(CPack)
