# lit configuration for ptmcc's golden tests: each test is a C file whose
# RUN: lines drive ptmcc and whose CHECK: lines FileCheck the output.
import os
import resource
import lit.formats

# A test program that runs away writing its output file must fail, not
# fill the disk or (through lit's own diff, which reads both files into
# memory) the machine's memory: no test writes a file of 256 MiB.
resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))

config.name = "ptmcc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".c"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ptm_build_dir, "tests", "lit")

config.substitutions.append(("%ptm_trace", os.path.join(config.ptm_build_dir, "bin", "ptm-trace")))
config.substitutions.append(("%ptm_rules", os.path.join(config.ptm_build_dir, "bin", "ptm-rules")))
config.substitutions.append(("%ptmcc", os.path.join(config.ptm_build_dir, "bin", "ptmcc")))
config.substitutions.append(("%clang", config.clang))
config.substitutions.append(("%ptm_libdir", os.path.join(config.ptm_build_dir, "lib")))
config.substitutions.append(("%ptm_include", os.path.join(config.ptm_build_dir, "include")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("FileCheck", config.filecheck))
config.substitutions.append(("not ", config.llvm_not + " "))

import shutil
if shutil.which("gcc"):
    config.available_features.add("gcc")
# libptm's SQLite family (libptm_sqlite.a), for the tests that link its
# notes and shims.
if os.path.exists(os.path.join(config.ptm_build_dir, "lib", "libptm_sqlite.a")):
    config.available_features.add("ptm-sqlite")
# A sanitized libptm (clang-19's runtime) links only with clang-19.
# A program that loads a shared object built by a sanitized ptmcc needs the
# sanitizers' runtimes itself: %sanitize_link links them.
sanitized = config.ptm_sanitize.upper() in ("ON", "1", "TRUE", "YES")
if sanitized:
    config.available_features.add("asan")
config.substitutions.append(("%sanitize_link", "-fsanitize=address,undefined" if sanitized else ""))

# Tests must not depend on the user's environment.
for var in ["PTM_CC", "PTM_TRACE", "PTM_RULES", "PTM_DISABLE", "PTM_DRY_RUN", "PTM_HOME"]:
    config.environment.pop(var, None)
# Nor on the user's history file (runtime/store.c): every run starts cold.
config.environment["PTM_HISTORY"] = "off"
