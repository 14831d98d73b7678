"""Gradient balancers under mixed precision: bf16 autocast, and fp16 with a loss scaler."""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision

from mtl import (
    ClassificationHead,
    LSTMEncoder,
    MultiTaskDataModule,
    MultiTaskModule,
    TaggingHead,
    Task,
    TokenizerSpec,
    TransformerEncoder,
)
from mtl.balancers import MGDA


class RecordingMGDA(MGDA):
    """MGDA that keeps the Gram matrices it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.grams: list[torch.Tensor] = []

    def forward(self, gram: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        self.grams.append(gram.detach().clone())
        return super().forward(gram, losses)


def run(files, tmp_path, balancer, encoder=None, **trainer_args) -> tuple[MultiTaskModule, L.Trainer]:
    source = {"path": "json", "data_files": files}
    tasks = [
        Task("det", "tagging", source, text="tokens", label="tags"),
        Task("sentiment", "classification", source, text="tokens"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=16, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    torch.manual_seed(0)
    model = MultiTaskModule(
        encoder or partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0),
        {"det": TaggingHead, "sentiment": partial(ClassificationHead, pooling="max")},
        balancer=balancer,
        grad_clip=5.0,
        lr=1e-2,
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    L.seed_everything(0)
    args = dict(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path)
    trainer = L.Trainer(accelerator="cpu", **(args | trainer_args))
    trainer.fit(model, data)
    return model, trainer


def test_bf16_autocast_trains_with_a_gradient_balancer(tiny_corpus, fresh_cache, tmp_path) -> None:
    model, trainer = run(tiny_corpus, tmp_path, MGDA(), precision="bf16-mixed", max_epochs=6)
    assert trainer.callback_metrics["val/det/accuracy"] > 0.93  # majority class: 0.85
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_fp16_loss_scaling_gives_the_balancer_unscaled_gradients(tiny_corpus, fresh_cache, tmp_path) -> None:
    # (CPU has no fp16 LSTM kernel, so this test uses the Transformer encoder)
    encoder = partial(TransformerEncoder, dim=16, num_layers=1, num_heads=2, ff_dim=32, dropout=0.0)
    plain = RecordingMGDA()
    run(tiny_corpus, tmp_path, plain, encoder, max_steps=3)
    scaled = RecordingMGDA()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    model, _ = run(
        tiny_corpus, tmp_path, scaled, encoder, max_steps=3, plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)]
    )
    # The first step's Gram matrix is that of the true gradients, not 2**24 times larger.
    ratio = scaled.grams[0].diagonal() / plain.grams[0].diagonal()
    assert torch.all((ratio > 0.5) & (ratio < 2.0)), ratio
    assert scaler.get_scale() >= 2.0**11  # no overflow skipped every step
    assert all(torch.isfinite(p).all() for p in model.parameters())
