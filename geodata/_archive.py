"""Size limits and safe unpacking of the files people send: nothing unbounded is read.

A file over the limit is refused before it is opened. A zip is refused when a member's path
would land outside the folder it is unpacked into (absolute paths, ``..``, symlinks), when its
declared uncompressed size is over the limit or its compression ratio is absurd (a zip bomb),
and again while unpacking when the bytes actually written pass the limit (a zip that lies about
its sizes).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from geodata.errors import DataFileError, InputLimitError, UnsafeArchiveError

MAX_BYTES_ENV = "VNBB_MAX_INPUT_MB"
_DEFAULT_MAX_MB = 2048
MAX_RATIO = 200  # uncompressed / compressed; real shapefiles and CSVs stay well under 50
MAX_MEMBERS = 10_000
_CHUNK = 1 << 20


def max_bytes(limit: int | None = None) -> int:
    """The size limit in bytes: ``limit`` if given, else ``VNBB_MAX_INPUT_MB`` (default 2 GiB)."""
    if limit is not None:
        return int(limit)
    return int(float(os.environ.get(MAX_BYTES_ENV, _DEFAULT_MAX_MB)) * 2**20)


def _mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MB"


def check_file(path: Path | str, limit: int | None = None) -> Path:
    """``path`` if it exists, is a non-empty file and is within the size limit."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(path, "does not exist.")
    if path.is_dir():
        return path
    size = path.stat().st_size
    if size == 0:
        raise DataFileError(path, "is empty (0 bytes): was the upload or export interrupted?")
    cap = max_bytes(limit)
    if size > cap:
        raise InputLimitError(path, f"is {_mb(size)}, over the {_mb(cap)} limit. Split it (e.g. one file per "
                                    f"province) or raise the limit with {MAX_BYTES_ENV}.")
    return path


def _member_problems(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        return f"member {info.filename!r}: its path leads outside the archive's folder"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"member {info.filename!r}: is a symbolic link"
    return None


def unpack_zip(path: Path | str, dest: Path | str | None = None, limit: int | None = None) -> Path:
    """Unpack a zip safely into ``dest`` (a new temporary folder if not given) and return it.

    The caller removes the folder when done.
    """
    path = check_file(path, limit)
    cap = max_bytes(limit)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFileError(path, f"is not a readable zip archive ({exc}): is it truncated? Send it again.") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise InputLimitError(path, f"holds {len(members):,} files, more than {MAX_MEMBERS:,}.")
        unsafe = [p for p in (_member_problems(m) for m in members) if p]
        if unsafe:
            raise UnsafeArchiveError(path, "is refused: it holds paths that would be written outside the folder "
                                           "it is unpacked into. Zip the files themselves, without folders above "
                                           "them.", unsafe)
        declared = sum(m.file_size for m in members)
        packed = max(sum(m.compress_size for m in members), 1)
        if declared > cap:
            raise InputLimitError(path, f"declares {_mb(declared)} once unpacked, over the {_mb(cap)} limit "
                                        "(a zip bomb, or a file to split).")
        if declared > 10 * 2**20 and declared / packed > MAX_RATIO:
            raise InputLimitError(path, f"declares {_mb(declared)} from {_mb(packed)} packed (ratio "
                                        f"{declared / packed:,.0f}:1): refused as a likely zip bomb.")
        out = Path(dest) if dest else Path(tempfile.mkdtemp(prefix="vnbb-unzip-"))
        written = 0
        try:
            root = out.resolve()
            for info in members:
                target = (out / info.filename).resolve()
                if root not in target.parents and target != root:
                    raise UnsafeArchiveError(path, f"member {info.filename!r} would be written outside the folder.")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > cap:
                            raise InputLimitError(path, f"unpacks to more than {_mb(cap)} although it declares "
                                                        f"{_mb(declared)}: refused as a zip bomb.")
                        dst.write(chunk)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            shutil.rmtree(out, ignore_errors=True)
            raise DataFileError(path, f"cannot be unpacked ({exc}): is it truncated or corrupt? Send it again.") from exc
        except DataFileError:
            shutil.rmtree(out, ignore_errors=True)
            raise
    return out
