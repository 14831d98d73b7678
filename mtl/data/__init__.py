"""Task declarations, readers, tokenization and the multi-task data module."""

from mtl.data.datamodule import MultiTaskDataModule
from mtl.data.errors import DataError
from mtl.data.sampling import TaskSampler
from mtl.data.task import Task
from mtl.data.tokenizer import TokenizerSpec

__all__ = ["DataError", "MultiTaskDataModule", "Task", "TaskSampler", "TokenizerSpec"]
