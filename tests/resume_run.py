"""Train a tiny multi-task model with step checkpoints; optionally SIGKILL itself mid-epoch.

Run by tests/test_resume.py. Not a test module itself.

    python tests/resume_run.py OUT.pt --root DIR --steps 40 [--kill-at 17] [--resume CKPT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
from functools import partial
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

import mtl.balancers
from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, TaggingHead, Task, TokenizerSpec


class KillAt(L.Callback):
    """Sends SIGKILL to this process right after training step ``step`` (no cleanup)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def write_corpus(directory: Path) -> dict[str, str]:
    rng = random.Random(0)
    words = "the a cat dog runs sleeps quickly slowly big small red blue good bad".split()
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, n in (("train", 150), ("validation", 30)):
        path = directory / f"{split}.jsonl"
        if not path.exists():
            with path.open("w") as out:
                for _ in range(n):
                    tokens = [rng.choice(words) for _ in range(rng.randint(3, 9))]
                    row = {
                        "tokens": tokens,
                        "label": "pos" if "good" in tokens else "neg",
                        "tags": ["D" if t in ("the", "a") else "X" for t in tokens],
                    }
                    out.write(json.dumps(row) + "\n")
        files[split] = str(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--root", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--balancer", default="UncertaintyWeighting")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--resume", default=None)
    parser.add_argument("--sampling", default="proportional")
    args = parser.parse_args()

    L.seed_everything(0)
    files = write_corpus(Path(args.data))
    source = {"path": "json", "data_files": files}
    tasks = [
        Task("sentiment", "classification", source, text="tokens"),
        Task("det", "tagging", source, text="tokens", label="tags"),
    ]
    data = MultiTaskDataModule(
        tasks, batch_size=8, sampling=args.sampling, tokenizer=TokenizerSpec(vocab_size=60, min_frequency=1)
    )
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=8, hidden_dim=8, dropout=0.3),  # dropout: the random state must resume too
        {"sentiment": partial(ClassificationHead, pooling="max"), "det": TaggingHead},
        balancer=getattr(mtl.balancers, args.balancer)(),
        lr=1e-2,
        warmup=5,
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    checkpoints = ModelCheckpoint(dirpath=Path(args.root) / "checkpoints", every_n_train_steps=5, save_last=True, save_top_k=0)
    callbacks = [checkpoints] + ([KillAt(args.kill_at)] if args.kill_at is not None else [])
    trainer = L.Trainer(
        max_steps=args.steps,
        val_check_interval=10,
        logger=False,
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=args.root,
    )
    trainer.fit(model, data, ckpt_path=args.resume)
    state = model.state_dict()
    tensors = {k: v.detach().clone() for k, v in state.items() if isinstance(v, torch.Tensor)}
    extra = {k: v for k, v in state.items() if not isinstance(v, torch.Tensor)}  # e.g. a balancer's plain state
    torch.save({"tensors": tensors, "balancer": extra}, args.out)


if __name__ == "__main__":
    main()
