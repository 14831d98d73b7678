"""The ``mtl`` command's entry point: help from a cache, everything else from :mod:`mtl.cli`.

Building the parser needs the classes it describes, and importing Lightning and torch takes
seconds. ``mtl --help`` and ``mtl <subcommand> --help`` are therefore printed, after their
first time, from a copy kept in the cache (``$MTL_CACHE/help``, default ``~/.cache/mtl``),
keyed by the toolkit's source files (paths, sizes, modification times), the versions of
Python, Lightning and jsonargparse and the arguments: any change to them builds the help
anew. Helps are drawn 100 columns wide. ``make setup`` builds them all at once
(:func:`warm_help_cache`), so the first help after it is fast too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from importlib import metadata
from pathlib import Path

from mtl.cache_folder import cache_dir

#: The subcommands, as the parser lists them.
SUBCOMMANDS = ("fit", "validate", "test", "predict", "report", "advise", "export", "affinity")
_HELP = ("-h", "--help")


#: Every help the cache holds: ``mtl --help`` and ``mtl <subcommand> --help``.
HELPS = (["--help"], *([name, "--help"] for name in SUBCOMMANDS))
#: Helps are drawn this wide whatever the terminal, so one cached copy serves every terminal.
WIDTH = "100"


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else list(args)
    cached = _cache_file(argv)
    if cached is not None and cached.is_file():
        sys.stdout.write(cached.read_text(encoding="utf-8"))
        return
    from mtl.cli import main as cli_main

    if cached is None:
        cli_main(args)
        return
    os.environ["COLUMNS"] = WIDTH
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(_Tee(sys.stdout, shown)):
            cli_main(args)
    except SystemExit as done:
        if done.code in (0, None) and shown.getvalue():
            _save(cached, shown.getvalue())
        raise


def warm_help_cache() -> None:
    """Build every help into the cache in one process (``make setup`` does, so that even
    the first ``mtl --help`` after it is printed without importing Lightning)."""
    from mtl.cli import main as cli_main

    os.environ["COLUMNS"] = WIDTH
    for argv in HELPS:
        cached = _cache_file(argv)
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
            cli_main(argv)
        if shown.getvalue():
            _save(cached, shown.getvalue())


def _save(cached: Path, text: str) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(cached)  # whole or not at all


def _cache_file(argv: list[str]) -> Path | None:
    """Where the help for ``argv`` is kept; None when ``argv`` asks for something else."""
    is_help = (len(argv) == 1 and argv[0] in _HELP) or (len(argv) == 2 and argv[0] in SUBCOMMANDS and argv[1] in _HELP)
    if not is_help:
        return None
    key = hashlib.sha256()
    source = Path(__file__).resolve().parent
    for path in sorted(source.rglob("*.py")):
        stat = path.stat()
        key.update(f"{path.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    for package in ("lightning", "jsonargparse"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            key.update(f"{package}={metadata.version(package)}\n".encode())
    key.update(f"{sys.version}\n{argv}\n".encode())
    return cache_dir() / "help" / f"{key.hexdigest()[:24]}.txt"


class _Tee(io.TextIOBase):
    """Writes to two streams."""

    def __init__(self, first: io.TextIOBase, second: io.TextIOBase) -> None:
        self.first, self.second = first, second

    def write(self, text: str) -> int:
        self.first.write(text)
        return self.second.write(text)

    def flush(self) -> None:
        self.first.flush()
