"""Checkpoint files that are either the old one or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

# ".last.ckpt.<pid>@<host>.<token>.partial": who writes it, so that a later save can tell
# a dead writer's leftover from a file another live process is still writing.
_PARTIAL = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)@(?P<host>.+)\.(?P<token>[0-9a-f]+)\.partial$")
_ANY_PARTIAL = re.compile(r"^\..+\.partial$")
# A partial file whose writer cannot be checked (another host, or an older mtl's name
# without a pid) is removed only once nobody has written to it for this long: a live
# writer appends to its file continuously until it renames it.
UNKNOWN_WRITER_QUIET_SECONDS = 3600.0


def partial_name(target: str) -> str:
    """The temporary file name for ``target`` written by this process."""
    return f".{target}.{os.getpid()}@{socket.gethostname()}.{secrets.token_hex(4)}.partial"


def remove_stale_partials(folder: Path, now: float | None = None) -> list[Path]:
    """Remove the ``.*.partial`` files in ``folder`` left by writers that died mid-save
    (SIGKILL, power loss): those of a process of this host that no longer runs, and those
    whose writer cannot be checked once they have been untouched for an hour. A file this
    process or another live process of this host is writing is never removed.
    Returns the removed paths."""
    now = time.time() if now is None else now
    host, removed = socket.gethostname(), []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not _ANY_PARTIAL.match(name):
            continue
        path = folder / name
        match = _PARTIAL.match(name)
        if match and match["host"] == host:
            stale = int(match["pid"]) != os.getpid() and not _running(int(match["pid"]))
        else:
            try:
                stale = now - path.stat().st_mtime > UNKNOWN_WRITER_QUIET_SECONDS
            except OSError:
                continue
        if stale:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file in the target's own folder, flushes it to
    disk, then renames it over the target (``os.replace``, atomic on one file system).

    Lightning's default writes through a temporary file in the system temp folder; when
    that is another file system (a local ``/tmp``, checkpoints on network storage), its
    final move is a copy straight into the target, and a kill during that copy leaves a
    truncated ``last.ckpt``. Remote URLs (``s3://`` ...) keep Lightning's behaviour.

    The temporary file is named ``.<target>.<pid>@<host>.<random>.partial`` and created
    with the permissions of any new file (``0o666`` less the umask, as ``torch.save`` to a
    path gives). A writer killed mid-save leaves its partial file behind; every save first
    removes such leftovers from its folder (see :func:`remove_stale_partials`).
    The ``mtl`` command installs this plugin; from Python pass
    ``L.Trainer(plugins=[AtomicCheckpointIO()])``.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(target.parent)
        temporary = target.parent / partial_name(target.name)
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        try:
            with os.fdopen(handle, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        folder = os.open(target.parent, os.O_RDONLY)  # make the rename itself durable
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
