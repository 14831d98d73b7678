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


def write_corpus(directory: Path) -> dict[str, str]:
    """96 rows (a multiple of every global batch used): two sentence-level tasks."""
    rng = random.Random(0)
    words = "the a cat dog runs sleeps quickly slowly big small red blue good bad".split()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "train.jsonl"
    if not path.exists():
        with path.open("w") as out:
            for _ in range(96):
                tokens = [rng.choice(words) for _ in range(rng.randint(3, 9))]
                row = {"tokens": tokens, "polarity": "pos" if "good" in tokens else "neg", "animal": "cat" if "cat" in tokens else "other"}
                out.write(json.dumps(row) + "\n")
    return {"train": str(path), "validation": str(path)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--balancer", default="Sum")
    parser.add_argument("--mode", default="parameters")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--data", default=str(Path(os.environ.get("MTL_CACHE", "/tmp")) / "distributed-corpus"))
    args = parser.parse_args()

    files = write_corpus(Path(args.data))
    source = {"path": "json", "data_files": files}
    tasks = [
        Task("polarity", "classification", source, text="tokens", label="polarity", labels=["neg", "pos"]),
        Task("animal", "classification", source, text="tokens", label="animal", labels=["cat", "other"]),
    ]
    data = MultiTaskDataModule(tasks, batch_size=args.batch_size, sampling="all", bucket_batches=1, tokenizer=TokenizerSpec(vocab_size=60, min_frequency=1))
    torch.manual_seed(0)
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=8, hidden_dim=8, dropout=0.0),
        {"polarity": partial(ClassificationHead, pooling="max", dropout=0.0), "animal": partial(ClassificationHead, pooling="max", dropout=0.0)},
        balancer=getattr(mtl.balancers, args.balancer)(),
        gradient_mode=args.mode,
        lr=1e-2,
        schedule="constant",
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto",
        max_steps=args.steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    trainer.fit(model, data)
    if trainer.global_rank == 0:
        final = {k: v.detach().clone() for k, v in model.state_dict().items()}
        torch.save({"initial": initial, "final": final}, args.out)


if __name__ == "__main__":
    main()
