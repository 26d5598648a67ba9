"""Write a file all at once: a temporary file beside it, then a rename. Never a partial file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from deltaeval.errors import InputError
from deltaeval.surrogates import replace_lone_surrogates


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` (parent folders created) and return the path.

    The text goes to a temporary file in the same folder, which then replaces ``path`` in one
    rename: a reader (or a crash) sees the old file or the whole new one, never a part. Lone
    surrogates, which UTF-8 cannot hold, are written as U+FFFD. Raises InputError naming the
    file when it cannot be written.
    """
    target = Path(path)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = replace_lone_surrogates(text).encode("utf-8")
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
        temporary = None
    except OSError as err:
        raise InputError(
            f"cannot write the file: {err.strerror or err}",
            hint="check that the folder exists and is writable, or give another path",
            path=target,
        ) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    return target
