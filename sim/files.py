"""Atomic file writing: everything the app writes goes to a temporary file beside the
target and is renamed over it only when complete, so a failure, a full disk or a cancel
never leaves a half-written file under the final name."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_SUFFIX = 16


def _name_max(folder: Path) -> int:
    """The longest file name (in bytes) the folder's file system takes."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _temporary_name(path: Path, suffix: str, limit: int) -> str:
    """'.<stem>.<8 hex digits><suffix>', the stem shortened so the name's bytes stay within
    `limit` (a suffix longer than MAX_SUFFIX becomes '.tmp')."""
    if len(os.fsencode(suffix)) > MAX_SUFFIX:
        suffix = ".tmp"
    tag = f".{secrets.token_hex(4)}{suffix}"
    stem = path.stem if path.suffix == suffix else path.name
    room = limit - 1 - len(os.fsencode(tag))
    while len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return f".{stem}{tag}"


def _fresh(path: Path, suffix: str, create: Callable[[Path], None]) -> Path:
    """A new hidden name beside `path`, within the file system's name length, created by
    `create` (with the umask's permissions, as any new file of the user's)."""
    limit = _name_max(path.parent) if path.parent.is_dir() else 255
    for _ in range(100):
        tmp = path.parent / _temporary_name(path, suffix, limit)
        try:
            create(tmp)
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path in the target's folder (same suffix); on normal exit it
    replaces `path`, on any exception it is deleted and the exception goes on."""
    path = Path(path)
    tmp = _fresh(
        path, path.suffix or ".tmp", lambda p: os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    )
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yields a temporary folder beside `path` to fill; on normal exit it is renamed to
    `path`, on any exception it is deleted with what it holds. `path` must be new or an
    empty folder (FileExistsError before anything is written otherwise)."""
    path = Path(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise FileExistsError(errno.EEXIST, "exists and is not an empty folder", str(path))
    tmp = _fresh(path, "", lambda p: os.mkdir(p, 0o777))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def make_folder(path: str | Path) -> None:
    """Create the folder `path` and its parents unless it is one already; OSError (with errno
    and a reason a person reads) when it cannot be: 'is a file; name a folder' where a file
    has that name, 'F is a file, not a folder' where a file F is on the way (the commands that
    write a folder of results all say it so)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file; name a folder", str(path))
    _nearest_folder(path)
    path.mkdir(parents=True, exist_ok=True)


def _nearest_folder(path: Path) -> Path:
    """The nearest of path's parents that exists; NotADirectoryError naming it if it is a file."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, not a folder", str(path))
    return parent


def check_writable(path: str | Path, folder: bool = False) -> None:
    """OSError (with errno and a reason) unless a file (or, with `folder`, a new or empty
    folder) can be created under `path`: creates and removes a temporary file in the
    nearest folder that exists, so an unwritable target is found before any work."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise FileExistsError(errno.EEXIST, "is a file; name a new or empty folder", str(path))
    if folder and path.exists() and any(path.iterdir()):
        raise FileExistsError(errno.EEXIST, "exists and is not an empty folder", str(path))
    if not folder and path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; name a file", str(path))
    parent = _nearest_folder(path)
    probe = _fresh(
        parent / path.name, ".tmp", lambda p: os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    )
    probe.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
