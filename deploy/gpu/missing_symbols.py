#!/usr/bin/env python3
"""Which functions and data a shared library needs that the given libraries do not define.

usage: missing_symbols.py NEEDING.so PROVIDER.so... [--show N]

Prints `missing=COUNT` and the first N missing names (demangled where c++filt exists). Reads the
ELF dynamic symbol tables itself, so it needs neither binutils nor any Python package: the GPU
machine this is for has only Python. Weak undefined symbols are left out (the loader accepts them
missing), and so are names any system library of the process defines (libc, libstdc++, ...), which
the caller passes as providers too.
"""
import shutil
import struct
import subprocess
import sys

SHT_DYNSYM = 11
STB_WEAK = 2


def dynamic_symbols(path):
    """(defined, undefined_strong) name sets of the file's .dynsym."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"{path}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    defined, undefined = set(), set()
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != SHT_DYNSYM:
            continue
        strtab_offset = sections[link][4]
        for at in range(offset + entsize, offset + size, entsize):  # entry 0 is the null symbol
            name_at, info, _, shndx, _, _ = struct.unpack_from("<IBBHQQ", data, at)
            end = data.index(b"\0", strtab_offset + name_at)
            name = data[strtab_offset + name_at:end].decode()
            if shndx != 0:
                defined.add(name)
            elif info >> 4 != STB_WEAK:
                undefined.add(name)
    return defined, undefined


def main(argv):
    show = 30
    if "--show" in argv:
        i = argv.index("--show")
        show = int(argv[i + 1])
        del argv[i:i + 2]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    _, needed = dynamic_symbols(argv[0])
    provided = set()
    for provider in argv[1:]:
        provided |= dynamic_symbols(provider)[0]
    missing = sorted(needed - provided)
    print(f"needed={len(needed)} missing={len(missing)}")
    names = missing[:show]
    if names and shutil.which("c++filt"):
        names = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    for name in names:
        print(f"  {name}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
