// ptmcc -p <build-dir> file.c compiles file.c with the flags and in the
// directory its compile_commands.json entry names, to the entry's output;
// with --emit-source or --dump-annotations the output is stdout or -o.
// RUN: rm -rf %t.db %t.run && mkdir -p %t.db %t.run
// RUN: echo '[{"directory": "%t.run", "file": "%s", "arguments": ["cc", "-DFROM_DB=7", "%s", "-o", "from-db"]}]' > %t.db/compile_commands.json
// RUN: %ptmcc -p %t.db %s
// RUN: %t.run/from-db | FileCheck %s
// RUN: %ptmcc -p %t.db %s --emit-source | FileCheck %s --check-prefix=EMIT
// RUN: %ptmcc -p=%t.db --dump-annotations %s -o %t.json && FileCheck %s --check-prefix=DUMP --input-file=%t.json
// RUN: not %ptmcc -p %t.run %s 2>&1 | FileCheck %s --check-prefix=NODB
// RUN: not %ptmcc -p %t.db %S/driver-help.c 2>&1 | FileCheck %s --check-prefix=NOENTRY

#include <ptm.h>
#include <stdio.h>

PTM_TRANSACTION(.transaction_id = "db.seven")
int seven(void) { return FROM_DB; }

int main(void)
{
    printf("%d\n", seven());
    return 0;
}

// CHECK: 7
// EMIT: static int seven__ptm_primary(void) { return FROM_DB; }
// DUMP: "transaction_id": "db.seven"
// NODB: ptmcc: error: no compilation database: '{{.*}}.run' holds no compile_commands.json
// NOENTRY: ptmcc: error: no compile command for '{{.*}}driver-help.c' in {{.*}}.db/compile_commands.json
