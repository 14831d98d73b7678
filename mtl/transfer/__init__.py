"""Transfer from an earlier run: load its encoder and tokenizer, attach new heads, and
choose which layers train (see :class:`Transfer`); ``mtl advise`` recommends how."""

from mtl.transfer.advisor import Advice, Thresholds, recommend
from mtl.transfer.errors import TransferError
from mtl.transfer.gradual_unfreezing import GradualUnfreezing
from mtl.transfer.source_run import SourceRun, load_source_run
from mtl.transfer.transfer import Transfer

__all__ = ["Advice", "GradualUnfreezing", "SourceRun", "Thresholds", "Transfer", "TransferError", "load_source_run", "recommend"]
