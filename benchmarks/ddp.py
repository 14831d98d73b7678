"""Training throughput with DDP: 1 process against 2, on the real data pipeline.

Workload: the embedded synthetic corpus (three tasks: tagging, sentiment, topic, one
task per step, proportional sampling) through ``MultiTaskDataModule`` and a 2-layer
Transformer encoder (dim 256, 4 heads, ff 1024) in a Lightning ``Trainer``. The batch per
process is fixed, so 2 processes train on twice the rows per step (weak scaling), as
users scale out. Throughput = non-padding tokens of the global batch per second, median
over steps after a warm-up. Each setting runs in its own process tree (this script with
``--single``), side by side in one invocation.

On CPU the settings are: 1 process x 1 thread, 1 process x 2 threads, and 2 processes
(gloo) x 1 thread each. With ``--accelerator gpu`` (one GPU): 1 process, tokens per
second and the model FLOP utilisation (MFU), from the usual count of 6 x (non-embedding
parameters) FLOPs per token plus 12 x layers x dim x length for attention, against the
GPU's dense bf16 peak (``--peak-tflops``).

    make bench-ddp                                   # CPU: 1 vs 2 processes
    python benchmarks/ddp.py --accelerator gpu --precision bf16-mixed --peak-tflops 989
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import lightning as L
import torch
import torch.distributed as dist

from mtl import ClassificationHead, MultiTaskDataModule, MultiTaskModule, TaggingHead, Task, TokenizerSpec, TransformerEncoder

DIM, LAYERS, HEADS, FF = 256, 2, 4, 1024


class _Throughput(L.Callback):
    """Wall time per step and non-padding tokens of the global batch (summed over processes)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.tokens: list[int] = []
        self.lengths: list[int] = []  # padded length of each step's batch
        self._start = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        tokens = torch.tensor(sum(int(b["attention_mask"].sum()) for b in batch.values()), device=module.device)
        if dist.is_initialized():
            dist.all_reduce(tokens)
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._start)
        self.tokens.append(int(tokens))
        self.lengths.append(max(b["input_ids"].shape[1] for b in batch.values()))


def _tasks() -> list[Task]:
    source = {"path": "synthetic", "train": 6000, "validation": 10, "test": 10, "seed": 0}
    splits = {"train": "train", "validation": "validation", "test": "test"}
    return [
        Task("tags", "tagging", source, text="tokens", label="tags", splits=splits),
        Task("sentiment", "classification", source, text="text", label="sentiment", splits=splits),
        Task("topic", "classification", source, text="text", label="topic", splits=splits),
    ]


def single(cfg: dict) -> dict:
    """One setting; rank 0 returns the measurement."""
    torch.set_num_threads(cfg["threads"])
    data = MultiTaskDataModule(_tasks(), batch_size=cfg["batch"], tokenizer=TokenizerSpec(vocab_size=4000, min_frequency=1))
    L.seed_everything(0, verbose=False)
    module = MultiTaskModule(
        partial(TransformerEncoder, dim=DIM, num_layers=LAYERS, num_heads=HEADS, ff_dim=FF, dropout=0.1),
        {"tags": TaggingHead, "sentiment": ClassificationHead, "topic": ClassificationHead},
        lr=1e-3,
        schedule="constant",
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    timer = _Throughput()
    trainer = L.Trainer(
        accelerator=cfg["accelerator"],
        devices=cfg["devices"],
        strategy="ddp" if cfg["devices"] > 1 else "auto",
        precision=cfg["precision"],
        max_steps=cfg["warmup"] + cfg["steps"],
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(module, data)
    if trainer.global_rank != 0:
        return {}
    times, tokens = timer.times[cfg["warmup"] :], timer.tokens[cfg["warmup"] :]
    step = statistics.median(times)
    rate = sum(tokens) / sum(times)
    out = {"ms": step * 1e3, "tokens_per_s": rate, "tokens_per_step": sum(tokens) / len(tokens)}
    if cfg["accelerator"] == "gpu":
        encoder_params = sum(p.numel() for n, p in module.encoder.named_parameters() if "embedding" not in n)
        head_params = sum(p.numel() for p in module.heads.parameters())
        length = statistics.mean(timer.lengths[cfg["warmup"] :])
        flops_per_token = 6 * (encoder_params + head_params) + 12 * LAYERS * DIM * length
        out["mfu"] = rate * flops_per_token / (cfg["peak_tflops"] * 1e12)
        out["gpu"] = torch.cuda.get_device_name()
    return out


def run_child(cfg: dict, timeout: int) -> dict:
    """Runs one setting in a fresh process tree; rank 0 writes its result to a file."""
    env = os.environ | {"OMP_NUM_THREADS": str(cfg["threads"])}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, __file__, "--single", json.dumps(cfg | {"out": str(out)})]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        if done.returncode == 0 and out.exists():
            return json.loads(out.read_text())
    tail = [x for x in done.stderr.strip().splitlines() if x.strip()]
    return {"error": tail[-1] if tail else f"exit {done.returncode}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--batch", type=int, default=32, help="rows per process per step")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="GPU dense peak for MFU (H100 SXM bf16: 989)")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "ddp.md"))
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        cfg = json.loads(args.single)
        result = single(cfg)
        if result:  # rank 0
            Path(cfg["out"]).write_text(json.dumps(result))
        return

    base = {"accelerator": args.accelerator, "precision": args.precision, "batch": args.batch, "steps": args.steps,
            "warmup": args.warmup, "peak_tflops": args.peak_tflops}  # fmt: skip
    if args.accelerator == "gpu":
        if not torch.cuda.is_available():
            sys.exit("no CUDA device here: run the GPU setting on a machine with one, or leave out --accelerator gpu")
        settings = [("1 GPU", dict(base, devices=1, threads=os.cpu_count() or 1))]
    else:
        settings = [
            ("1 process x 1 thread", dict(base, devices=1, threads=1)),
            ("1 process x 2 threads", dict(base, devices=1, threads=2)),
            ("2 processes x 1 thread", dict(base, devices=2, threads=1)),
        ]
    results = []
    for name, cfg in settings:
        r = run_child(cfg, args.timeout)
        results.append((name, cfg, r))
        print(name, r, flush=True)
    ref = results[0][2]
    lines = [
        "# DDP throughput",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; torch {torch.__version__}, lightning {L.__version__}; "
        f"precision {args.precision}.",
        "",
        f"Workload: embedded synthetic corpus (tagging, sentiment, topic; one task per step), 2-layer Transformer "
        f"(dim {DIM}, {HEADS} heads, ff {FF}), batch {args.batch} rows per process; median of {args.steps} steps after "
        f"{args.warmup} warm-up steps. Tokens = non-padding tokens of the global batch.",
        "",
        "| setting | ms per step | tokens per step | tokens/s | throughput vs. first row |"
        + (" MFU |" if args.accelerator == "gpu" else ""),
        "|---|---|---|---|---|" + ("---|" if args.accelerator == "gpu" else ""),
    ]
    for name, _, r in results:
        if "error" in r:
            lines.append(f"| {name} | error: {r['error']} | | | |")
            continue
        speed = f"{r['tokens_per_s'] / ref['tokens_per_s']:.2f}x" if "error" not in ref else "n/a"
        row = f"| {name} | {r['ms']:.1f} | {r['tokens_per_step']:.0f} | {r['tokens_per_s']:.0f} | {speed} |"
        lines.append(row + (f" {100 * r['mfu']:.1f}% ({r['gpu']}) |" if "mfu" in r else ""))
    lines += [
        "",
        "Command: `make bench-ddp`"
        + (f" / `python benchmarks/ddp.py --accelerator gpu --precision {args.precision}`" if args.accelerator == "gpu" else ""),
    ]
    text = "\n".join(lines)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
