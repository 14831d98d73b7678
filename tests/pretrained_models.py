"""Tiny random pretrained models of three families, written with ``save_pretrained`` as a hub
model's directory is (``config.json``, ``model.safetensors``, ``tokenizer.json``,
``tokenizer_config.json``), so no test depends on BERT's conventions:

- ``bert``: WordPiece, ``[PAD]`` 0, segment embeddings, a pooler;
- ``roberta``: byte-level BPE, ``<s>`` 0 and ``<pad>`` 1, no segment embeddings,
  positions counted from the pad id;
- ``deberta``: a SentencePiece-style Unigram tokenizer (``▁`` word starts), DeBERTa-v2's
  relative attention, no pooler.
"""

from __future__ import annotations

import random
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

WORDS = "the a cat dog runs sleeps quickly slowly big small red blue good bad unbelievably wonderful".split()
KINDS = ("bert", "roberta", "deberta")
DIM, LAYERS, HEADS = 32, 2, 2


def training_text(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(n)]


def _bert_tokenizer(texts: list[str]) -> tuple[Tokenizer, dict[str, str]]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=75, min_frequency=1, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece()
    names = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    return tok, names


def _roberta_tokenizer(texts: list[str]) -> tuple[Tokenizer, dict[str, str]]:
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=300, min_frequency=1, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    names = dict(bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")  # fmt: skip
    return tok, names


def _unigram_tokenizer(texts: list[str]) -> tuple[Tokenizer, dict[str, str]]:
    specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.train_from_iterator(
        texts, trainers.UnigramTrainer(vocab_size=60, special_tokens=specials, unk_token="[UNK]", shrinking_factor=0.9)
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    names = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    return tok, names


def save_tiny_model(kind: str, directory: Path, seed: int = 0) -> Path:
    """A tiny random model of ``kind`` (one of :data:`KINDS`) with its tokenizer, saved to
    ``directory``; returns it."""
    import torch
    from transformers import AutoModel, BertConfig, DebertaV2Config, PreTrainedTokenizerFast, RobertaConfig

    texts = training_text()
    build = {"bert": _bert_tokenizer, "roberta": _roberta_tokenizer, "deberta": _unigram_tokenizer}[kind]
    tok, names = build(texts)
    sizes = dict(
        vocab_size=tok.get_vocab_size(), hidden_size=DIM, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        intermediate_size=2 * DIM, pad_token_id=tok.token_to_id(names["pad_token"]),
    )  # fmt: skip
    if kind == "bert":
        config = BertConfig(**sizes, max_position_embeddings=128, type_vocab_size=2)
    elif kind == "roberta":
        config = RobertaConfig(**sizes, max_position_embeddings=130, type_vocab_size=1, bos_token_id=0, eos_token_id=2)
    else:
        config = DebertaV2Config(
            **sizes, max_position_embeddings=128, type_vocab_size=0, relative_attention=True, position_buckets=16,
            max_relative_positions=128, pos_att_type=["p2c", "c2p"], position_biased_input=False,
        )  # fmt: skip
    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=128, **names).save_pretrained(directory)
    return directory
