#!/usr/bin/env python3
"""no_cycles.py - no dependency cycle between the product's object files.

Usage: no_cycles.py BUILD_DIR

Each object file of the product (the libraries and programs defined in
the top-level CMakeLists.txt: the objects BUILD_DIR/compile_commands.json
names under BUILD_DIR/CMakeFiles/<target>.dir/; tests/ and bench/ build
theirs under their own directories and are not read) is a node. "A uses a
symbol defined in B" (nm: undefined in A, defined globally in B) is an
edge A -> B. Data and calls must flow one way
(front -> backends -> shared helpers), so the graph must have no strongly
connected component of more than one node.

Exit status: 0 with the one-line summary "N objects, M edges, no cycles";
1 with every cycle printed (its objects, then each edge inside it with the
symbols that make it); 2 when the build directory cannot be read.
"""
import json
import os
import shlex
import subprocess
import sys

# Libraries every build has: if one is missing the build directory is not
# the one expected, and an empty graph would pass for a clean one.
REQUIRED_TARGETS = ("safeurl_base", "safeurl_core", "safeurl_store",
                    "safeurl_runtime")


def fail(msg):
    print("no_cycles: " + msg, file=sys.stderr)
    sys.exit(2)


def find_objects(build):
    """{label: path} for every object of the top-level targets.

    The objects are those the build's compile_commands.json names (the
    project sets CMAKE_EXPORT_COMPILE_COMMANDS), so an object left behind
    by a source since removed is not read.
    """
    top = os.path.join(os.path.abspath(build), "CMakeFiles")
    db = os.path.join(build, "compile_commands.json")
    try:
        with open(db) as f:
            entries = json.load(f)
    except OSError as ex:
        fail("'%s': %s: expected the build tree of a configured preset, "
             "e.g. build/debug" % (db, ex.strerror))
    except ValueError as ex:
        fail("'%s': not JSON: %s" % (db, ex))
    found = {}
    targets = set()
    for entry in entries:
        args = shlex.split(entry.get("command", ""))
        if "-o" not in args or args.index("-o") + 1 >= len(args):
            continue
        path = os.path.normpath(os.path.join(entry["directory"],
                                             args[args.index("-o") + 1]))
        rel = os.path.relpath(path, top)
        parts = rel.split(os.sep)
        # Only CMakeFiles/<target>.dir/... of the top directory: tests/ and
        # bench/ have their own CMakeFiles.
        if rel.startswith("..") or len(parts) < 2 or \
                not parts[0].endswith(".dir") or not path.endswith(".o"):
            continue
        # A benchmark or test program the top directory defines
        # (bench/bench_store.c) is not the product either.
        if parts[1] in ("bench", "tests"):
            continue
        if not os.path.isfile(path):
            fail("'%s': not built: build the tree first (cmake --build)"
                 % path)
        target = parts[0][:-len(".dir")]
        # Generated sources sit in the build tree: CMake names their
        # objects after the path it made relative.
        label = os.path.join(*parts[1:])[:-len(".o")]
        found.setdefault(label, []).append((target, path))
        targets.add(target)
    missing = [t for t in REQUIRED_TARGETS if t not in targets]
    if missing:
        fail("'%s': no objects of %s: expected the build tree of this "
             "project" % (build, ", ".join(missing)))
    objects = {}
    for label, places in found.items():
        for target, path in places:
            name = label if len(places) == 1 else "%s:%s" % (target, label)
            objects[name] = path
    return objects


def symbols(path):
    """(defined, undefined): the global symbols of one object."""
    try:
        out = subprocess.run(["nm", "-P", path], check=True,
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        fail("nm: not found: install binutils")
    except subprocess.CalledProcessError as ex:
        fail("nm '%s' failed: %s" % (path, ex.stderr.strip()))
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind in ("U", "v", "w"):
            # v/w: a weak reference, a use when another object defines it.
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


def build_graph(objects):
    """{a: {b: sorted symbols}} for every edge a -> b, a != b."""
    defs, undefs = {}, {}
    where = {}
    for label, path in objects.items():
        defs[label], undefs[label] = symbols(path)
        for s in defs[label]:
            where.setdefault(s, []).append(label)
    graph = {label: {} for label in objects}
    for a in objects:
        for s in undefs[a]:
            for b in where.get(s, ()):
                if b != a:
                    graph[a].setdefault(b, []).append(s)
    for a in graph:
        for b in graph[a]:
            graph[a][b].sort()
    return graph


def components(graph):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on_stack = {}, {}, set()
    stack, result, counter = [], [], [0]

    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                result.append(sorted(comp))
    return result


def main(argv):
    if len(argv) != 2:
        print("usage: no_cycles.py BUILD_DIR", file=sys.stderr)
        return 2
    objects = find_objects(argv[1])
    graph = build_graph(objects)
    nedges = sum(len(v) for v in graph.values())
    cycles = [c for c in components(graph) if len(c) > 1]
    if not cycles:
        print("%d objects, %d edges, no cycles" % (len(objects), nedges))
        return 0
    print("%d objects, %d edges, %d cycle(s):" % (len(objects), nedges,
                                                 len(cycles)))
    for comp in sorted(cycles):
        members = set(comp)
        print("cycle: " + ", ".join(comp))
        for a in comp:
            for b in sorted(graph[a]):
                if b in members:
                    print("  %s -> %s (%s)" % (a, b, ", ".join(graph[a][b])))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
