#!/usr/bin/env python3
"""Layout check: in every crate's src/, no source file over 500 lines, no function over 80
lines, and no import circle between files (an edge is a `crate::` path naming another file of
the same crate, in `use` lines or in code; a file's edges to its own ancestors are not counted).
Tests (`#[cfg(test)] mod tests`) are left out. Prints what it finds; exits 1 if anything.

    python3 tools/layout.py            # the whole workspace
    python3 tools/layout.py --edges    # also print every file's edges
"""
import os
import re
import sys

MAX_FILE, MAX_FN = 500, 80
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
show_edges = '--edges' in sys.argv
problems = []


def strip_tests(text):
    return re.sub(r'#\[cfg\(test\)\]\s*mod tests\s*\{.*', '', text, flags=re.S)


def long_functions(path, text):
    lines = text.split('\n')
    for i, line in enumerate(lines):
        m = re.match(r'^(\s*)(pub(\([^)]*\))? )?(const )?(async )?(unsafe )?fn (\w+)', line)
        if not m:
            continue
        indent = m.group(1)
        # The body ends at the first line after the signature that is the indent and `}`.
        for j in range(i, len(lines)):
            if lines[j].rstrip().endswith(';') and j == i and '{' not in lines[j]:
                break  # a declaration in a trait
            if lines[j] == indent + '}' or (j > i and lines[j].startswith(indent + '}') and lines[j].strip() in ('}', '})', '});')):
                if j - i + 1 > MAX_FN:
                    problems.append(f'{path}:{i + 1}: fn {m.group(7)} is {j - i + 1} lines (at most {MAX_FN})')
                break


for crate, _, files in os.walk(root):
    if '/target' in crate or '/.git' in crate or 'Cargo.toml' not in files or not os.path.isdir(os.path.join(crate, 'src')):
        continue
    src = os.path.join(crate, 'src')
    mods = {}
    for d, _, fs in os.walk(src):
        for f in fs:
            if f.endswith('.rs'):
                p = os.path.join(d, f)
                parts = os.path.relpath(p, src)[:-3].split(os.sep)
                if parts[-1] == 'mod':
                    parts = parts[:-1]
                if parts in (['lib'], ['main']):
                    parts = []
                mods[tuple(parts)] = p
    def resolve(path):
        path = tuple(path)
        while path and path not in mods:
            path = path[:-1]
        return path if path in mods else None
    edges = {m: set() for m in mods}
    for m, p in mods.items():
        full = open(p, encoding='utf-8').read()
        rel = os.path.relpath(p, root)
        n = full.count('\n')
        if n > MAX_FILE:
            problems.append(f'{rel}: {n} lines (at most {MAX_FILE})')
        text = strip_tests(full)
        long_functions(rel, text)
        code = re.sub(r'//.*', '', text)
        targets = [hit.group(1).split('::') for hit in re.finditer(r'crate::((?:\w+::)*\w+)', code)]
        for hit in re.finditer(r'use crate::\{([^;]*)\};', code, flags=re.S):
            targets += [[name] for name in re.findall(r'(\w+)(?:::|\s*[,}]|$)', hit.group(1))]
        for t in targets:
            t = resolve(t)
            if t is not None and t != m and t != () and not (len(t) < len(m) and m[:len(t)] == t):
                edges[m].add(t)
    if show_edges:
        for m in sorted(edges):
            print(f"{os.path.relpath(crate, root)}: {'/'.join(m) or 'lib'} -> {', '.join('/'.join(t) for t in sorted(edges[m])) or '-'}")
    index, low, stack, on, counter = {}, {}, [], set(), [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
                problems.append(f"{os.path.relpath(crate, root)}: import circle: {', '.join('/'.join(x) for x in sorted(comp))}")
    for v in mods:
        if v not in index:
            visit(v)

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
