"""runtime/ without circles: the file-level call graph of libptm's objects.

Reads the objects of the ptm_objects, ptm_jump and ptm_sqlite libraries with nm: the global symbols
each defines and each leaves undefined.  Object A calls object B when A
uses a symbol B defines.  Fails when

  - the graph has a cycle (a file calls a file that calls it back): the
    cycle is printed with the symbols on each edge;
  - a file calls a file of a higher layer (LAYERS below; lower layers may
    not call upper ones);
  - an object is missing from LAYERS (a new file must be placed);
  - a source outside the shim families includes shims/shims_int.h.

Usage: check_layers.py --nm NM --src runtime/ OBJECT...
"""
import argparse
import os
import re
import subprocess
import sys

# The layers of runtime/, lowest first.  A file may call files of its own
# layer (without a cycle) and of the layers below it, never above.
LAYERS = [
    ("os", [
        "os.c",
    ]),
    ("events", [                # the ring, what a mirror records, its way out
        "ring.c",
        "event.c",
        "peers.c",              # the process's other copies of libptm
    ]),
    ("mirror memory", [         # what a mirror's own code calls: its write
        "redo.c",               # buffer and heap, bounds, clones, its jumps
        "bounds.c",
        "clones.c",
        "longjmp.c",
    ]),
    ("shim base", [             # the simulated world the families share
        "shims/sim_probe.c",
        "shims/sim_locks.c",
        "shims/sim_path.c",
        "shims/sim_overlay.c",
        "shims/sim.c",
        "shims/sim_ns.c",
        "shims/notes.c",
        "shims/sqlite_sql.c",   # libptm_sqlite.a: below shims/sqlite.c
        "shims/sqlite_mem.c",   # libptm_sqlite.a: the overlay's files in memory
        "shims/sqlite_fds.c",   # libptm_sqlite.a: the overlay's private descriptors
        "shims/sqlite_wal.c",   # libptm_sqlite.a: the overlay's copy of the WAL index
    ]),
    ("shim families", [
        "shims/file.c",
        "shims/net.c",
        "shims/net_peers.c",    # the endpoints the net shims record and replay
        "shims/stdio_stream.c",
        "shims/stdio.c",
        "shims/stdio_read.c",
        "shims/time.c",
        "shims/lock.c",
        "shims/validate.c",
        "shims/mem.c",
        "shims/jump.c",
        "shims/sqlite.c",       # libptm_sqlite.a; families.c names it weakly
        "shims/sqlite_str.c",   # libptm_sqlite.a: its strings, on shims/sqlite.c
        "shims/sqlite_get.c",   # libptm_sqlite.a: a connection's getters, on shims/sqlite.c
        "shims/families.c",
        "shims/sqlite_vfs.c",      # libptm_sqlite: the overlay VFS
        "shims/sqlite_busy.c",     # libptm_sqlite: the primary's busy wait
    ]),
    ("mirror core", [           # a mirror's start and end; the program's jumps
        "mirror.c",
        "longjmp_api.c",
    ]),
    ("executors", [
        "exec_inline.c",
        "exec_fork.c",
        "fork_child.c",         # the fork child's side
        "fork_reopen.c",        # its descriptors reopened read-only
        "sandbox.c",            # the fork child's seccomp filter
    ]),
    ("engine", [
        "last_error.c",
        "pam_budget.c",
        "model.c",
        "store_redis.c",    # store.c's Redis backend (PTM_HISTORY=redis://)
        "store.c",
        "history.c",
        "signals.c",
        "pam_match.c",
        "pam_lib.c",
        "pam.c",
        "broker.c",
        "sampling.c",         # per id: adaptive mirroring, exploration, its retry budget
        "adjust.c",
        "trace.c",
        "metrics.c",          # PTM_METRICS, beside the trace record
        "tx.c",
        "default_rules.c",
    ]),
]

SHIMS_INT = "shims/shims_int.h"


def source_name(obj):
    """The runtime/-relative source of an object of ptm_objects."""
    path = obj.replace("\\", "/")
    m = re.search(r"[\w.-]+\.dir/(.*)\.o(bj)?$", path)
    name = m.group(1) if m else os.path.basename(path)
    # A generated source lies in the build tree: CMake names it after its path.
    if name.endswith("default_rules.c"):
        return "default_rules.c"
    return name


def call_graph(nm, objects):
    """{file: {file it calls: sorted symbols}}, from one run of nm."""
    out = subprocess.run([nm, "-P", "-g", "-A"] + objects, check=True,
                         capture_output=True, text=True).stdout
    defs = {source_name(o): set() for o in objects}
    undefs = {src: set() for src in defs}
    for line in out.splitlines():
        # "path: name type [value size]"; a path may hold ": " only before it.
        path, _, rest = line.rpartition(": ")
        fields = rest.split()
        if not path or len(fields) < 2:
            continue
        src = source_name(path)
        name, kind = fields[0], fields[1]
        (undefs if kind in ("U", "w", "v") else defs).setdefault(src, set()).add(name)
    owner = {}
    for src, names in defs.items():
        for name in names:
            owner.setdefault(name, src)
    graph = {src: {} for src in defs}
    for src, names in undefs.items():
        for name in sorted(names):
            dst = owner.get(name)
            if dst and dst != src:
                graph.setdefault(src, {}).setdefault(dst, []).append(name)
    return graph


def cycles(graph):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def one_cycle(graph, comp):
    """A shortest cycle through the first file of comp, as a list of files."""
    start, members = comp[0], set(comp)
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp + [start]


def includes_shims_int(src_dir, name):
    try:
        with open(os.path.join(src_dir, name)) as f:
            text = f.read()
    except OSError:
        return False
    return re.search(r'#\s*include\s*"(shims/)?shims_int\.h"', text) is not None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nm", default="nm")
    parser.add_argument("--src", help="runtime/, for the include check")
    parser.add_argument("objects", nargs="+")
    args = parser.parse_args()

    layer_of = {}
    for i, (_, files) in enumerate(LAYERS):
        for name in files:
            layer_of[name] = i
    graph = call_graph(args.nm, args.objects)
    errors = []

    for src in sorted(graph):
        if src not in layer_of:
            errors.append("%s: not in the layer table of %s" % (src, os.path.basename(__file__)))
    for comp in cycles(graph):
        path = one_cycle(graph, comp)
        steps = ["%s -> %s (%s)" % (a, b, ", ".join(graph[a][b]))
                 for a, b in zip(path, path[1:])]
        errors.append("cycle among %s:\n    %s" % (", ".join(comp), "\n    ".join(steps)))
    for src in sorted(graph):
        for dst, names in sorted(graph[src].items()):
            if src in layer_of and dst in layer_of and layer_of[dst] > layer_of[src]:
                errors.append("%s (%s) calls up into %s (%s): %s" % (
                    src, LAYERS[layer_of[src]][0], dst, LAYERS[layer_of[dst]][0],
                    ", ".join(names)))
    if args.src:
        shim_layers = {i for i, (name, _) in enumerate(LAYERS) if name.startswith("shim")}
        for src in sorted(graph):
            if layer_of.get(src) not in shim_layers and includes_shims_int(args.src, src):
                errors.append("%s includes %s, the shim families' own header" % (src, SHIMS_INT))

    for i, (name, files) in enumerate(LAYERS):
        present = [f for f in files if f in graph]
        print("layer %d %-14s %s" % (i, name, " ".join(present)))
    edges = sum(len(v) for v in graph.values())
    if errors:
        print("\n%d problem(s) in %d files, %d calls between files:" % (len(errors), len(graph), edges))
        for e in errors:
            print("  " + e)
        return 1
    print("\nno cycle, no call up a layer: %d files, %d calls between files" % (len(graph), edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
