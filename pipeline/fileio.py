"""Writing outputs so that a crash or a kill never leaves a half-written file behind.

Everything the pipeline produces goes to a temporary sibling first and is renamed into place
when complete; rename is atomic on one file system.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from pipeline.diskspace import no_space
from pipeline.progress import ByteProgress

_FICLONE = 0x40049409  # ioctl FICLONE from linux/fs.h
_CHUNK = 1 << 20


TMP_NAME = re.compile(r"\..+\.tmp-[^/]+")  # what _tmp_sibling names: .<final name>.tmp-<random>


def _tmp_sibling(final: Path, directory: bool) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final.name}.tmp-"
    # A killed earlier run of this stage may have left its temporary behind; each output has one
    # writer (its stage), so any such leftover is garbage.
    for stale in final.parent.glob(f"{glob.escape(prefix)}*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, dir=final.parent)
    os.close(fd)
    return Path(name)


def sweep_temporaries(folders: list[Path]) -> tuple[int, int]:
    """Delete every temporary an interrupted write left under `folders`; the count and bytes freed.
    A stage cleans its own at its start, but a killed stage later restored from DVC's run-cache never
    runs again. Only while nothing writes there (`make release` holds its lock)."""
    count = freed = 0
    for folder in folders:
        for parent, dirs, files in os.walk(folder):
            for name in [*dirs, *files]:
                path = Path(parent) / name
                if TMP_NAME.fullmatch(name):
                    freed += sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() \
                        else path.stat().st_size
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                    count += 1
            dirs[:] = [d for d in dirs if not TMP_NAME.fullmatch(d)]
    return count, freed


def _replace(tmp: Path, final: Path) -> None:
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)
    elif final.exists() or final.is_symlink():
        final.unlink()
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `final`; on success rename it onto `final`, on failure delete it."""
    final = Path(final)
    tmp = _tmp_sibling(final, directory)
    try:
        yield tmp
        _fsync(tmp)  # the bytes on disk before the name says they are there (a full disk fails here too)
        if directory:
            # mkdtemp makes 0700 folders; published folders get the usual permissions.
            os.chmod(tmp, 0o755)
        else:
            os.chmod(tmp, 0o644)
        _replace(tmp, final)
    except BaseException as err:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            raise no_space(final.parent, f"writing {final.name}") from None
        raise


def _fsync(path: Path) -> None:
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def dumps_json(data: Any) -> str:
    """Stable JSON: sorted keys, fixed indentation, trailing newline, so same data gives same bytes."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, dumps_json(data))


def read_json(path: str | Path) -> Any:
    from pipeline.errors import ModelprepError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelprepError(path, "file not found") from None
    except json.JSONDecodeError as err:
        raise ModelprepError(path, f"not valid JSON ({err})") from None
    except RecursionError:  # Python's parser recurses per level
        raise ModelprepError(path, "JSON nested too deeply") from None


def _pump(path: str | Path, sink=None, progress: ByteProgress | None = None) -> str:
    """sha256 of a file's bytes, read once; each chunk also goes to `sink` when given."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if sink:
                sink.write(chunk)
            if progress:
                progress.advance(len(chunk))
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    return _pump(path)


def _record(path: Path, root: Path, sha256: str) -> dict[str, Any]:
    """The (path, size, sha256) triple release records use for every file."""
    return {"path": path.relative_to(root).as_posix(), "sha256": sha256, "size": path.stat().st_size}


def file_record(path: Path, root: Path) -> dict[str, Any]:
    return _record(path, root, sha256_file(path))


def _reflink(src: Path, dst: Path) -> bool:
    """`dst` as a copy-on-write clone of `src` (Btrfs, XFS, ...), where the file system can."""
    try:
        with open(src, "rb") as source, open(dst, "wb") as target:
            fcntl.ioctl(target.fileno(), _FICLONE, source.fileno())
        return True
    except OSError:
        dst.unlink(missing_ok=True)
        return False


def link_or_copy(src: Path, dst: Path) -> str:
    """Make `dst` hold `src`'s bytes without a second copy on disk where the file system allows: a
    reflink, else a hard link, else a copy. Returns which it made."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if _reflink(src, dst):
        return "reflink"
    try:
        os.link(src, dst)  # follows a symbolic link (the Hugging Face cache's snapshot entries) to its file
        return "hardlink"
    except OSError:
        shutil.copyfile(src, dst)
        return "copy"


def link_with_record(src: Path, dst: Path, root: Path, progress: ByteProgress) -> tuple[dict[str, Any], str]:
    """`link_or_copy`, then the record of `dst` relative to `root` (its bytes read once, for the hash)."""
    how = link_or_copy(src, dst)
    return _record(dst, root, _pump(dst, progress=progress)), how


def tree_files(root: Path) -> list[Path]:
    """Every regular file under `root`, in a stable order."""
    return sorted(p for p in root.rglob("*") if p.is_file())
