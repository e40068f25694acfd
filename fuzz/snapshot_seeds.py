#!/usr/bin/env python3
"""Writes fuzz/corpus/snapshot/: a real snapshot as the harness's raw-sections input, mutants of
it (the string offsets and lengths issue 11 found unchecked, ids and counts out of range), and
the file itself. Usage: fuzz/snapshot_seeds.py INDEXER_BINARY (indexes tests/fixtures/snapshots/tree)."""
import os, struct, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'corpus', 'snapshot')
tree = os.path.join(here, '..', 'tests', 'fixtures', 'snapshots', 'tree')
with tempfile.TemporaryDirectory() as tmp:
    snap = os.path.join(tmp, 'snapshot')
    subprocess.run([sys.argv[1], 'index', tree, '--snapshot', snap], check=True, stdout=subprocess.DEVNULL)
    data = open(snap, 'rb').read()
header = 16 + 6 * 32 + 8
sections, at = [], header
for i in range(6):
    compressed = struct.unpack_from('<Q', data, 16 + i * 32 + 8)[0]
    frame = data[at:at + compressed]
    at += compressed
    sections.append(subprocess.run(['zstd', '-dc'], input=frame, stdout=subprocess.PIPE, check=True).stdout)

def raw(secs):
    return struct.pack('<6I', *[len(s) for s in secs]) + b''.join(secs)

def vecs(sec, count):  # (start of count, start of data, n) of the first `count` arrays of a section
    out, at = [], 0
    for _ in range(count):
        n = struct.unpack_from('<Q', sec, at)[0]
        data = at + 8 + (8 - (at + 8) % 8) % 8
        out.append((at, data, n))
        at = data + n * elem[len(out) - 1]
    return out

def write(name, secs):
    open(os.path.join(out, name), 'wb').write(raw(secs))

os.makedirs(out, exist_ok=True)
open(os.path.join(out, 'file'), 'wb').write(data)
write('sections', sections)
# Strings section: the strings blob, then the signatures blob (bytes).
elem = [1, 1]
(_, s_data, s_n), (g_at, g_data, g_n) = vecs(sections[1], 2)
strings = sections[1][s_data:s_data + s_n]
signatures = sections[1][g_data:g_data + g_n]
def strings_section(st, sg):
    b = struct.pack('<Q', len(st)) + st
    b += struct.pack('<Q', len(sg))
    b += b'\0' * ((8 - len(b) % 8) % 8) + sg
    return b
write('strings_short', [sections[0], strings_section(strings[:-1], signatures)] + sections[2:])
write('signatures_short', [sections[0], strings_section(strings, signatures[:-1])] + sections[2:])
write('length_never_ends', [sections[0], strings_section(b'\0' + b'\xff' * (len(strings) - 1), signatures)] + sections[2:])
# Records section: symbols (24 bytes each), far end lines (8), files (48): files[0].path is the
# first 4 bytes of the files' data.
elem = [24, 8, 48]
(_, _, _), (_, _, _), (_, f_data, f_n) = vecs(sections[0], 3)
rec = bytearray(sections[0])
struct.pack_into('<I', rec, f_data, len(strings) - 1)
write('path_at_last_byte', [bytes(rec)] + sections[1:])
rec = bytearray(sections[0])
struct.pack_into('<I', rec, f_data, 0xffffffff)
write('path_out_of_range', [bytes(rec)] + sections[1:])
rec = bytearray(sections[0])
struct.pack_into('<Q', rec, 0, 0xffffffffffffffff)
write('symbol_count_huge', [bytes(rec)] + sections[1:])
