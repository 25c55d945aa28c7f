// Response files (@file), as CMake and Ninja write them: their words are
// ptmcc's arguments (quotes, escapes, nested @files), so a transaction in
// a command given that way is rewritten; it used to be built as a plain
// function, the command taken for a link.  The program is
// driver-scan-paths.c's, with its expected output.
// RUN: rm -rf %t.dir && mkdir -p "%t.dir/o d" && cd %t.dir && cp %S/driver-scan-paths.c t.c
// RUN: cd %t.dir && printf -- "-isystem %inputs/txdir\n@inner.rsp\n" > outer.rsp
// RUN: cd %t.dir && printf -- "-c 't.c' -o \"o d/t.o\"\n" > inner.rsp
// RUN: cd %t.dir && %ptmcc @outer.rsp && %ptmcc "o d/t.o" -o app && ./app | FileCheck %S/driver-scan-paths.c
// RUN: cd %t.dir && printf -- "%%s\n" "o\\ d/t.o -o app2" > link.rsp && %ptmcc @link.rsp && ./app2 | FileCheck %S/driver-scan-paths.c
