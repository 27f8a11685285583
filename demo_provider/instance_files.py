"""Per-install files the demo provider generates on first start (cookie key, signing key).

Created once, readable only by the owner, and safe when two processes start at the same time.
"""

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: str | os.PathLike[str], create: Callable[[], bytes]) -> bytes:
    """Return the file's bytes, writing `create()` into it first if it does not exist yet."""
    target = Path(path)
    if target.exists():
        return target.read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp opens with O_CREAT | O_EXCL and mode 0600, so the secret is never readable by others.
    # The finished file is then published with link(), which also fails if the name exists: a
    # second process starting at the same moment either wins or reads the first one's complete
    # file, never a half-written one.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(create())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, target)
    finally:
        os.unlink(temporary)
    return target.read_bytes()
