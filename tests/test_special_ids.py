"""A tokenizer whose special tokens sit at other ids than mtl's own (``[PAD]`` at 1, as a
RoBERTa vocabulary pads): the data pads with its pad id, the encoder keeps that row as its
padding row, the denoising head starts and stops at its ids, and padding changes no loss."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from mtl import LSTMEncoder, MultiTaskDataModule, MultiTaskModule, Task, TokenizerSpec
from mtl.contracts import SpecialIds
from mtl.data.collate import collate
from mtl.data.tokenizer import add_templates, load_tokenizer, special_ids
from mtl.heads import ClassificationHead, DenoisingHead, TaggingHead

# [CLS] first and [PAD] second, like RoBERTa's <s> 0 and <pad> 1
ORDER = ["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"]
EXPECTED = SpecialIds(pad=1, unk=3, cls=0, sep=2, mask=4)


@pytest.fixture
def shifted_tokenizer(tiny_corpus: dict[str, str], tmp_path: Path) -> str:
    """A WordPiece ``tokenizer.json`` trained on the tiny corpus with the special tokens in ORDER."""
    texts = [json.loads(line)["text"] for line in Path(tiny_corpus["train"]).read_text().splitlines()]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=80, min_frequency=1, special_tokens=ORDER))
    add_templates(tokenizer)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


def _data(tiny_corpus: dict[str, str], path: str) -> MultiTaskDataModule:
    source = {"path": "json", "data_files": {"train": tiny_corpus["train"], "validation": tiny_corpus["validation"]}}
    tasks = [
        Task("sentiment", "classification", source, text="text", label="label"),
        Task("tags", "tagging", source, text="tokens", label="tags"),
        Task("denoising", "denoising", source, text="text"),
    ]
    return MultiTaskDataModule(tasks, batch_size=16, tokenizer=TokenizerSpec(path=path), seed=0)


def _model(data: MultiTaskDataModule) -> MultiTaskModule:
    heads = {
        "sentiment": ClassificationHead,
        "tags": TaggingHead,
        "denoising": partial(DenoisingHead, hidden_dim=16, embed_dim=8),
    }
    encoder = partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0)
    return MultiTaskModule(
        encoder, heads, vocab_size=data.vocab_size, task_labels=data.task_labels, special_ids=data.special_ids, lr=0.01
    )


def test_special_ids_are_read_from_the_tokenizer(shifted_tokenizer: str) -> None:
    tokenizer = load_tokenizer(shifted_tokenizer)  # a pad id other than 0 is accepted
    assert special_ids(tokenizer) == EXPECTED
    assert tokenizer.encode("the cat").ids[0] == EXPECTED.cls and tokenizer.encode("the cat").ids[-1] == EXPECTED.sep


def test_padding_uses_the_tokenizers_pad_id_and_training_leaves_its_row_untouched(
    tiny_corpus: dict[str, str], shifted_tokenizer: str, fresh_cache: Path
) -> None:
    data = _data(tiny_corpus, shifted_tokenizer)
    assert data.special_ids == EXPECTED
    data.setup("fit")
    batches = list(next(iter(data.train_dataloader())).values()) + [next(iter(v)) for v in data.val_dataloader()]
    for batch in batches:
        ids, mask = batch["input_ids"], batch["attention_mask"]  # (B, T)
        assert bool((ids[~mask] == EXPECTED.pad).all()) and not bool((ids[mask] == EXPECTED.pad).any())
    assert sum(int((~batch["attention_mask"]).sum()) for batch in batches) > 0

    L.seed_everything(0)
    model = _model(data)
    embedding = model.encoder.embedding.embedding
    decoder = model.heads["denoising"]
    assert embedding.padding_idx == EXPECTED.pad and decoder.embedding.padding_idx == EXPECTED.pad
    assert decoder.special_ids == EXPECTED and model.heads["sentiment"].special_ids == EXPECTED
    assert not bool(embedding.weight[EXPECTED.pad].any()) and bool(embedding.weight[0].any())
    before = embedding.weight.detach().clone()
    trainer = L.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(model, data)
    after = embedding.weight.detach()
    assert not bool(after[EXPECTED.pad].any())  # the padding row never trains
    assert bool((after[0] != before[0]).any())  # the [CLS] row, id 0, does
    metrics = trainer.callback_metrics
    assert float(metrics["val/denoising/perplexity"]) < 20 < data.vocab_size  # learned: far below uniform guessing


def test_losses_do_not_depend_on_padding(tiny_corpus: dict[str, str], shifted_tokenizer: str, fresh_cache: Path) -> None:
    """Each task's loss over two rows batched together (the shorter one padded with id 1)
    equals the mean of its losses over each row alone (no padding)."""
    data = _data(tiny_corpus, shifted_tokenizer)
    data.setup("fit")
    L.seed_everything(0)
    model = _model(data).eval()
    for name in data.tasks:
        split = data.encoded[name]["validation"]
        lengths = split["length"]
        short = min(range(len(split)), key=lambda i: lengths[i])
        long = max(range(len(split)), key=lambda i: lengths[i])
        both = collate(split[[short, long]], name, EXPECTED.pad)
        assert int((~both["attention_mask"]).sum()) > 0  # the short row is padded
        head = model.heads[name]
        with torch.no_grad():
            together = head.loss(model(both, name), both)
            alone = [head.loss(model(b, name), b) for b in (collate(split[[i]], name, EXPECTED.pad) for i in (short, long))]
        if name == "sentiment":  # a mean over rows
            torch.testing.assert_close(together, (alone[0] + alone[1]) / 2)
        else:  # a mean over labelled tokens
            counts = [
                int((collate(split[[i]], name)["labels"][:, 1 if name == "denoising" else 0 :] != -100).sum())
                for i in (short, long)
            ]
            torch.testing.assert_close(together, (alone[0] * counts[0] + alone[1] * counts[1]) / sum(counts))


def test_the_denoising_head_generates_from_the_start_id_and_decodes_up_to_the_end_id() -> None:
    vocabulary = ORDER + ["a", "b", "c"]
    head = DenoisingHead(4, vocabulary, hidden_dim=8, embed_dim=4, dropout=0.0)
    head.set_special_ids(EXPECTED)
    assert head.embedding.padding_idx == EXPECTED.pad and not bool(head.embedding.weight[EXPECTED.pad].any())
    logits = torch.full((1, 4, len(vocabulary)), -10.0)
    for step, token in enumerate([5, 6, EXPECTED.sep, 7]):  # a b [SEP] c
        logits[0, step, token] = 10.0
    batch = {"input_ids": torch.tensor([[0, 5, 6, 2]]), "attention_mask": torch.ones(1, 4, dtype=torch.bool)}
    assert head.decode(logits, batch) == [["a", "b"]]
