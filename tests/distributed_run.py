"""Train a fixed tiny multi-task model and save its final weights (rank 0).

Run by tests/test_distributed.py, once with one process and once with DDP over two
processes; the test compares the saved weights. Not a test module itself.

    python tests/distributed_run.py OUT.pt --balancer PCGrad --devices 2 --batch-size 4
"""

from __future__ import annotations

import argparse
import json
import os
import random
from functools import partial
from pathlib import Path

import lightning as L
import torch

import mtl.balancers
from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, Task, TokenizerSpec


def write_corpus(directory: Path, rows: int = 96, name: str = "train") -> dict[str, str]:
    """``rows`` rows (96: a multiple of every global batch used) for two sentence-level
    tasks, and a 37-row validation file (an odd number of batches of any size)."""
    rng = random.Random(rows)
    words = "the a cat dog runs sleeps quickly slowly big small red blue good bad".split()
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n in ((name, rows), (f"{name}-dev", 37)):
        paths[split] = path = directory / f"{split}.jsonl"
        if not path.exists():
            with path.open("w") as out:
                for _ in range(n):
                    tokens = [rng.choice(words) for _ in range(rng.randint(3, 9))]
                    row = {
                        "tokens": tokens,
                        "polarity": "pos" if "good" in tokens else "neg",
                        "animal": "cat" if "cat" in tokens else "other",
                    }
                    out.write(json.dumps(row) + "\n")
    return {"train": str(paths[name]), "validation": str(paths[f"{name}-dev"])}


class SumWithNaN(mtl.balancers.Sum):
    """``Sum``, except that the total is NaN at one step in one process (a skipped step)."""

    def __init__(self, step: int, rank: int) -> None:
        super().__init__()
        self.step, self.rank, self.calls = step, rank, 0

    def forward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        total = super().forward(losses)
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        hit = self.calls == self.step and rank == self.rank
        self.calls += 1
        return total * float("nan") if hit else total


def snapshot(model: torch.nn.Module) -> dict:
    """Tensors of the state dict (balancer extra state, a plain dict, left out)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--balancer", default="Sum")
    parser.add_argument("--mode", default="parameters")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--nodes", type=int, default=1, help="Trainer num_nodes (under torchrun)")
    parser.add_argument("--sampling", default="all")
    parser.add_argument(
        "--animal-rows", type=int, help="the second task's own training rows (uneven sizes); by default it reads the first's rows"
    )
    parser.add_argument(
        "--nan-at", type=int, nargs=2, metavar=("STEP", "RANK"), help="Sum with a NaN total at STEP in process RANK"
    )
    parser.add_argument("--data", default=str(Path(os.environ.get("MTL_CACHE", "/tmp")) / "distributed-corpus"))
    args = parser.parse_args()

    source = {"path": "json", "data_files": write_corpus(Path(args.data))}
    animal = (
        {"path": "json", "data_files": write_corpus(Path(args.data), args.animal_rows, "animal")} if args.animal_rows else source
    )
    tasks = [
        Task("polarity", "classification", source, text="tokens", label="polarity", labels=["neg", "pos"]),
        Task("animal", "classification", animal, text="tokens", label="animal", labels=["cat", "other"]),
    ]
    data = MultiTaskDataModule(
        tasks,
        batch_size=args.batch_size,
        sampling=args.sampling,
        bucket_batches=1,
        tokenizer=TokenizerSpec(vocab_size=60, min_frequency=1),
    )
    torch.manual_seed(0)
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=8, hidden_dim=8, dropout=0.0),
        {
            "polarity": partial(ClassificationHead, pooling="max", dropout=0.0),
            "animal": partial(ClassificationHead, pooling="max", dropout=0.0),
        },
        balancer=SumWithNaN(*args.nan_at) if args.nan_at else getattr(mtl.balancers, args.balancer)(),
        gradient_mode=args.mode,
        lr=1e-2,
        schedule="constant",
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=args.devices,
        num_nodes=args.nodes,
        strategy="ddp" if args.devices * args.nodes > 1 else "auto",
        max_steps=args.steps,
        check_val_every_n_epoch=1000,  # validated once, after training
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    initial = snapshot(model)
    trainer.fit(model, data)
    trainer.validate(model, data, verbose=False)
    if trainer.global_rank == 0:
        final = snapshot(model)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        torch.save({"initial": initial, "final": final, "metrics": metrics, "steps": trainer.global_step}, args.out)


if __name__ == "__main__":
    main()
