"""The contracts between data, encoders and heads: every task type has a head that reads
its labels, label kinds still read as their old strings, and the batch documents every key
the data produces."""

from __future__ import annotations

import inspect

import mtl.heads
from mtl.contracts import LabelKind, TaskBatch
from mtl.data.collate import collate
from mtl.data.task import LABEL_TYPE, Task
from mtl.heads.base import TaskHead


def test_every_task_type_has_a_head_of_its_label_kind() -> None:
    heads = [c for _, c in inspect.getmembers(mtl.heads, inspect.isclass) if issubclass(c, TaskHead) and c is not TaskHead]
    kinds = {head.label_type for head in heads}
    assert all(isinstance(kind, LabelKind) for kind in kinds)
    assert set(LABEL_TYPE.values()) == kinds == set(LabelKind)


def test_label_kinds_equal_the_strings_configs_and_checkpoints_use() -> None:
    assert LabelKind.TAGS == "tags" and LabelKind("masked_tokens") is LabelKind.MASKED_TOKENS
    assert f"{LabelKind.CLASS}" == "class" and repr(LabelKind.FLOAT) == "'float'"
    task = Task("pos", "tagging", {"path": "synthetic"}, text="tokens", label="tags")
    assert task.label_type is LabelKind.TAGS and task.label_type == mtl.heads.TaggingHead.label_type


def test_task_batch_names_every_key_collate_produces() -> None:
    columns = {
        "input_ids": [[2, 7, 3], [2, 3]],
        "token_type_ids": [[0, 0, 0], [0, 0]],
        "length": [3, 2],
        "index": [0, 1],
        "labels": [[-100, 1, -100], [-100, -100]],
        "word_starts": [[0, 1, 0], [0, 0]],
        "word_bytes": [[[], [98], []], [[], []]],
        "words": [1, 0],
        "words_read": [1, 0],
        "blank": [0, 1],
    }
    batch = collate(columns, "pos")
    assert set(batch) <= set(TaskBatch.__annotations__)
    assert set(TaskBatch.__required_keys__) == {"task", "input_ids", "attention_mask", "token_type_ids", "index"}
    assert set(TaskBatch.__required_keys__) <= set(batch)
