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


def _fresh(path: Path, suffix: str, create: Callable[[Path], None]) -> Path:
    """A new hidden name beside `path`, created by `create` (with the umask's permissions,
    as any new file of the user's)."""
    for _ in range(100):
        tmp = path.parent / f".{path.stem}.{secrets.token_hex(4)}{suffix}"
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


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
