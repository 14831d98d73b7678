"""Parts of a split by name: ``train[:90%]``, ``train[90%:]``, ``validation[:500]``.

A task's ``splits:`` maps each role to a split of its source, optionally sliced as
``datasets`` slices (``name[start:end]``; each bound a row count, a percentage, or empty;
negative counts from the end; percentages round to the closest row). With the task's
``shuffle_seed``, a split is first put in one seeded order, the same for every role that
slices it and on every process, so ``train[:90%]`` and ``train[90%:]`` never share a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from mtl.data.errors import DataError

_SLICE = re.compile(r"^(?P<name>[^\[\]]+?)\s*(?:\[\s*(?P<start>[^:\]]*?)\s*:\s*(?P<end>[^:\]]*?)\s*\])?$")
_BOUND = re.compile(r"^-?\d+%?$")

#: How a slice is written, for the messages.
FORMS = "a split name, optionally sliced: 'train', 'train[:90%]', 'train[90%:]', 'train[:1000]', 'train[-500:]'"


@dataclass(frozen=True)
class SplitSlice:
    """One role's part of a source split.

    Args:
        name: the source split (``train``).
        start: first row: a count (``1000``, ``-500``), a percentage (``"90%"``) or None.
        end: row after the last, written the same way, or None.
    """

    name: str
    start: int | str | None = None
    end: int | str | None = None

    @property
    def sliced(self) -> bool:
        return self.start is not None or self.end is not None

    def rows(self, count: int) -> range:
        """The row positions of this slice in a split of ``count`` rows."""
        return range(count)[slice(_position(self.start, count), _position(self.end, count))]


def parse_split(spec: str, where: str) -> SplitSlice:
    """``"train[:90%]"`` as a :class:`SplitSlice`; a :class:`DataError` starting with
    ``where`` (the task and role) for anything else."""
    match = _SLICE.match(str(spec).strip())
    bounds = (match.group("start"), match.group("end")) if match else ()
    if match is None or any(b and not _BOUND.match(b) for b in bounds):
        raise DataError(f"{where}: split {spec!r} is not {FORMS}; fix `splits:`")
    start, end = (_bound(b) for b in bounds)
    for bound in (start, end):
        if isinstance(bound, str) and not 0 <= int(bound[:-1]) <= 100:
            raise DataError(f"{where}: split {spec!r} has a percentage outside 0%..100%; fix `splits:`")
    return SplitSlice(match.group("name"), start, end)


def seeded_order(count: int, seed: int) -> np.ndarray:
    """A permutation of ``range(count)`` that depends only on ``seed`` and ``count``."""
    return np.random.default_rng(seed).permutation(count)


def _bound(text: str | None) -> int | str | None:
    if not text:
        return None
    return text if text.endswith("%") else int(text)


def _position(bound: int | str | None, count: int) -> int | None:
    if bound is None or isinstance(bound, int):
        return bound
    return int(round(int(bound[:-1]) * count / 100))  # as ``datasets``' "closest" rounding
