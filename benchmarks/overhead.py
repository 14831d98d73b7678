"""Overhead of MultiTaskModule + Lightning over a plain PyTorch loop.

Same model (3 tasks on one BiLSTM, losses summed), same optimiser, same pre-built
batches; the two loops alternate in one process and the per-step times are compared
as a ratio of medians. Writes ``benchmarks/results/overhead.md``.

    make bench-overhead            # or: python benchmarks/overhead.py --steps 60
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time
from functools import partial
from pathlib import Path

import lightning as L
import torch

from mtl import ClassificationHead, LSTMEncoder, MultiTaskModule, RegressionHead, TaggingHead

TASKS = {"cls": ["a", "b", "c"], "tag": [f"t{i}" for i in range(12)], "reg": []}
VOCAB, BATCH, LENGTH = 8000, 32, 48


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


class _StepTimer(L.Callback):
    """Time from one batch's start to the next one's: the whole loop, logging included."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_batch_start(self, *args) -> None:
        self.starts.append(time.perf_counter())

    def on_train_end(self, *args) -> None:
        self.starts.append(time.perf_counter())


class _Batches:
    """The pre-built batches as one iterable (a bare list would be read as many loaders)."""

    def __init__(self, batches: list[dict[str, dict]]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def lightning_loop(module: MultiTaskModule, batches: list[dict[str, dict]]) -> list[float]:
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
        accelerator="cpu",
    )
    trainer.fit(module, train_dataloaders=_Batches(batches))
    return [b - a for a, b in zip(timer.starts, timer.starts[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each loop")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps at the start of every round")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "overhead.md"))
    args = parser.parse_args()

    batches = make_batches(args.steps + args.warmup)
    base = make_module()
    plain, ours = [], []
    for _ in range(args.rounds):
        plain += plain_loop(copy.deepcopy(base), batches)[args.warmup :]
        ours += lightning_loop(copy.deepcopy(base), batches)[args.warmup :]
    p, m = statistics.median(plain), statistics.median(ours)
    ratio = m / p
    table = "\n".join(
        [
            "# Training-step overhead: MultiTaskModule + Lightning vs. a plain PyTorch loop",
            "",
            f"3 tasks (classification, tagging, regression) on a 2-layer BiLSTM (embed 128, hidden 128), "
            f"batch {BATCH} x length {LENGTH} per task, losses summed, AdamW; {args.rounds} alternating rounds "
            f"of {args.steps} timed steps each (after {args.warmup} warm-up steps); torch {torch.__version__}, "
            f"lightning {L.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}.",
            "",
            "| loop | median ms / step | mean ms / step |",
            "|---|---|---|",
            f"| plain PyTorch | {p * 1e3:.1f} | {statistics.mean(plain) * 1e3:.1f} |",
            f"| mtl MultiTaskModule (Lightning) | {m * 1e3:.1f} | {statistics.mean(ours) * 1e3:.1f} |",
            "",
            f"**ratio (median): {ratio:.3f}** (target at most 1.05)",
            "",
            "Command: `make bench-overhead`",
        ]
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
