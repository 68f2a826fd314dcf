#!/usr/bin/env python3
"""Converts .pkg files into structured package-fuzzer inputs (FuzzEntryPoints.structuredPackageMagic):
manifest.json first, then the other entries, stored uncompressed, with the fix-up-hashes flag set.
Debug info is stripped from the .so and .bpf.o (llvm-strip -g keeps .BTF), so inputs are small.
    Tests/Fuzz/pkg-to-seed.py OUTDIR PKG..."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile


def stripped(name, data):
    tool = shutil.which("llvm-strip")
    if not tool or not (name.endswith(".so") or name.endswith(".bpf.o")):
        return data
    with tempfile.NamedTemporaryFile(suffix=name) as f:
        f.write(data)
        f.flush()
        args = [tool, "--strip-unneeded" if name.endswith(".so") else "-g", f.name]
        if subprocess.run(args, capture_output=True).returncode != 0:
            return data
        with open(f.name, "rb") as g:
            return g.read()


MAGIC = b"EUNOFUZZPKG\n"

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for pkg in sys.argv[2:]:
    with zipfile.ZipFile(pkg) as z:
        names = sorted(z.namelist(), key=lambda n: (n != "manifest.json", n))
        body = bytearray(MAGIC + bytes([1]))
        for name in names:
            data = stripped(name, z.read(name))
            raw = name.encode()
            body += bytes([len(raw)]) + raw + struct.pack("<I", len(data)) + data
    with open(os.path.join(out, os.path.basename(pkg) + ".structured"), "wb") as f:
        f.write(body)
