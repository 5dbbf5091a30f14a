"""Pack a training state folder into parts of <= 15 MiB and back, for the device machine's transfer limits
(64 MiB of working tree out, at most 8 files of 16 MiB back; scripts/device_train.sh).

Each file is byte-shuffled (byte k of every 4-byte word together: the exponent bytes of fp32/bf16 weights then
deflate well) and stored deflated in one zip, cut into <prefix>.00, <prefix>.01, ... The 8-block molecule state
(66.7 MiB) packs into ~55 MiB.

    python scripts/pack_state.py pack training/molecule_fragments .device/state
    python scripts/pack_state.py unpack .device/state training/molecule_fragments
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

PART = 15 * 2**20
WORD = 4


def shuffle(data: bytes) -> bytes:
    """Bytes grouped by their position in each 4-byte word; a tail shorter than a word is kept as it is."""
    n = len(data) // WORD * WORD
    return np.frombuffer(data, np.uint8, n).reshape(-1, WORD).T.tobytes() + data[n:]


def unshuffle(data: bytes) -> bytes:
    n = len(data) // WORD * WORD
    return np.frombuffer(data, np.uint8, n).reshape(WORD, -1).T.tobytes() + data[n:]


def parts(prefix: Path) -> list[Path]:
    return sorted(prefix.parent.glob(f"{prefix.name}.[0-9][0-9]"))


def pack(folder: Path, prefix: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            archive.writestr(path.name, shuffle(path.read_bytes()))
    blob = buffer.getvalue()
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for old in parts(prefix):
        old.unlink()
    for i in range(0, len(blob), PART):
        prefix.with_name(f"{prefix.name}.{i // PART:02d}").write_bytes(blob[i:i + PART])
    print(f"packed {folder} into {len(parts(prefix))} parts of {prefix}, {len(blob) / 2**20:.1f} MiB")


def unpack(prefix: Path, folder: Path) -> None:
    found = parts(prefix)
    if not found:
        raise SystemExit(f"no {prefix}.00 ...: nothing to unpack")
    blob = b"".join(path.read_bytes() for path in found)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        for name in archive.namelist():
            (folder / name).write_bytes(unshuffle(archive.read(name)))
    print(f"unpacked {len(found)} parts of {prefix} into {folder}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["pack", "unpack"])
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    args = p.parse_args()
    (pack if args.mode == "pack" else unpack)(args.source, args.target)


if __name__ == "__main__":
    main()
