#!/usr/bin/env python3
"""bench/real/lua_blockers: which functions reachable from ROOT force the
fork executor, read from ptmcc's own facts records (--emit-source of each
unit of Lua's src/ with -fptm-mirror-all, the same records the runtime
walks): the reachable count, the records missing, the functions that are
not buffered, and each one whose clone needs fork, with its reason.  A
static view of what the trace's mirror_reason shows one at a time.

    bench/real/lua_blockers.py BUILD LUA_SRC_DIR EMIT_DIR g_write

LUA_SRC_DIR is an unpacked Lua 5.4.4 src/ (tests/e2e/realcode.py unpacks
one); EMIT_DIR caches the emitted units (redone when ptmcc is newer).
Python standard library only.
"""
import collections
import glob
import os
import re
import subprocess
import sys

if len(sys.argv) != 5:
    sys.exit("usage: lua_blockers.py BUILD LUA_SRC_DIR EMIT_DIR ROOT_FUNCTION")
# ptmcc runs in src: every path absolute
build, src, out, root = [os.path.abspath(a) for a in sys.argv[1:4]] + [sys.argv[4]]
ptmcc = os.path.join(os.path.abspath(build), "bin", "ptmcc")
os.makedirs(out, exist_ok=True)
facts = {}   # (file, name) -> dict
glob_ = {}   # name -> key for external
for c in sorted(glob.glob(os.path.join(src, "*.c"))):
    base = os.path.basename(c)
    if base in ("lua.c", "luac.c"):
        continue
    e = os.path.join(out, base)
    if not os.path.exists(e) or os.path.getmtime(e) < os.path.getmtime(ptmcc):
        subprocess.run([ptmcc, "-fptm-mirror-all", "-std=gnu99", "-O2", "-DLUA_COMPAT_5_3",
                        "-DLUA_USE_LINUX", "--emit-source", c, "-o", e], cwd=src,
                       stderr=subprocess.DEVNULL)
    if not os.path.exists(e):
        continue
    t = open(e).read()
    calls = {}
    for m in re.finditer(r"struct ptm_xcall (\w+)__ptm_xcalls\[\] = \{(.*?)\n\};", t, re.S):
        calls[m.group(1)] = re.findall(r'\{ "(\w+)", ', m.group(2))
    for m in re.finditer(r"(static )?const struct ptm_xfacts (\w+)__ptm_xfacts = \{(.*?)\n\};", t, re.S):
        name, body = m.group(2), m.group(3)
        fk = re.search(r'\.fork = "((?:[^"\\]|\\.)*)"', body)
        ind = re.search(r"\.indirect = 1", body)
        buf = re.search(r"\.buffered = (\d)", body)
        so = re.search(r"\.stores_out = (\d)", body)
        d = dict(name=name, file=base, fork=fk.group(1) if fk else None, indirect=bool(ind),
                 calls=calls.get(name, []), buffered=buf and buf.group(1) == "1",
                 stores=so and so.group(1) == "1")
        facts[(base, name)] = d
        if not m.group(1):
            glob_[name] = (base, name)
def look(file, name):
    return facts.get((file, name)) or (facts.get(glob_[name]) if name in glob_ else None)
start = [k for k in facts if k[1] == root]
seen, q, missing = set(), collections.deque(start), set()
parent = {}
while q:
    k = q.popleft()
    if k in seen: continue
    seen.add(k)
    for c in facts[k]["calls"]:
        d = look(k[0], c)
        if d is None:
            missing.add(c); continue
        kk = (d["file"], d["name"])
        if kk not in seen:
            parent.setdefault(kk, k); q.append(kk)
print(f"reachable {len(seen)}, missing records {sorted(missing)}")
nf = [facts[k] for k in seen if facts[k]["fork"]]
print(f"need fork: {len(nf)}; indirect: {sum(facts[k]['indirect'] for k in seen)}; unbuffered: {[k[1] for k in seen if not facts[k]['buffered']]}")
for d in sorted(nf, key=lambda d: d["fork"]):
    print(f"  {d['file']}:{d['name']}: {d['fork']}")
