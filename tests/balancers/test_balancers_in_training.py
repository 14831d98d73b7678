"""Weighting and gradient balancers inside a real Trainer: they train, log and checkpoint."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch

from mtl import (
    ClassificationHead,
    LSTMEncoder,
    MultiTaskDataModule,
    MultiTaskModule,
    RegressionHead,
    TaggingHead,
    Task,
    TokenizerSpec,
)
from mtl.balancers import FAMO, STCH, DynamicWeightAverage, UncertaintyWeighting


def build(files, balancer, **module_args):
    source = {"path": "json", "data_files": files}
    tasks = [
        Task("sentiment", "classification", source, text="text"),
        Task("det", "tagging", source, text="tokens", label="tags"),
        Task("length", "regression", source, text="text", label="score"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=16, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0),
        {
            "sentiment": partial(ClassificationHead, pooling="max"),
            "det": TaggingHead,
            "length": partial(RegressionHead, pooling="mean"),
        },
        balancer=balancer,
        lr=1e-2,
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
        **module_args,
    )
    return data, model


def fit(model, data, tmp_path, epochs: int) -> L.Trainer:
    L.seed_everything(0)
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    trainer.fit(model, data)
    return trainer


def test_uncertainty_log_variances_train_and_are_checkpointed(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus, UncertaintyWeighting(regression_tasks=["length"]))
    trainer = fit(model, data, tmp_path, epochs=2)
    optimised = {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]}
    assert all(id(p) in optimised for p in model.balancer.log_vars.values())
    log_vars = {k: float(v.detach()) for k, v in model.balancer.log_vars.items()}
    assert all(abs(v) > 1e-3 for v in log_vars.values()), log_vars  # moved from 0
    assert log_vars["det"] < log_vars["sentiment"]  # the easier task (lower loss) gets the lower variance
    ckpt = torch.load(
        trainer.checkpoint_callback.last_model_path or trainer.checkpoint_callback.best_model_path, weights_only=True
    )
    assert {f"balancer.log_vars.{t}" for t in log_vars} <= set(ckpt["state_dict"])
    assert float(ckpt["state_dict"]["balancer.log_vars.det"]) == pytest.approx(log_vars["det"])
    assert "train/det/weight" in trainer.callback_metrics


def test_dwa_weights_change_after_two_epochs(tiny_corpus, fresh_cache, tmp_path) -> None:
    balancer = DynamicWeightAverage(temperature=2.0)
    data, model = build(tiny_corpus, balancer)
    fit(model, data, tmp_path, epochs=3)
    weights = balancer.weights
    assert set(weights) == {"sentiment", "det", "length"}
    assert sum(weights.values()) == pytest.approx(3.0)
    assert max(weights.values()) - min(weights.values()) > 1e-3


def test_famo_moves_its_logits(tiny_corpus, fresh_cache, tmp_path) -> None:
    balancer = FAMO()
    data, model = build(tiny_corpus, balancer)
    fit(model, data, tmp_path, epochs=1)
    weights = balancer.task_weights()
    assert sum(weights.values()) == pytest.approx(1.0)
    assert max(weights.values()) - min(weights.values()) > 1e-3


def test_stch_takes_its_nadir_point_from_the_warmup_epoch(tiny_corpus, fresh_cache, tmp_path) -> None:
    balancer = STCH(warmup_epoch=0)
    data, model = build(tiny_corpus, balancer)
    trainer = fit(model, data, tmp_path, epochs=2)
    assert set(balancer.nadir) == {"sentiment", "det", "length"} and all(n > 0 for n in balancer.nadir.values())
    # epoch 1 trains the smooth maximum: the weights are K softmax_t / L_t, not the warm-up's 1 / L_t
    assert balancer.epoch == 2 and set(balancer.last_weights) == set(balancer.nadir)
    assert "train/det/weight" in trainer.callback_metrics


GRADIENT_METHODS = [
    "MGDA", "PCGrad", "CAGrad", "IMTLG", "GradVac", "AlignedMTL", "NashMTL", "UPGrad", "GradNorm", "DBMTL",
    "ConFIG", "DualProj", "FairGrad", "ExcessMTL", "MoCo", "SDMGrad", "MoDo", "CRMOGM",
]  # fmt: skip


def refuses_representation(balancer, mode: str) -> bool:  # noqa: ANN001 - a gradient balancer
    """Methods that need the task gradients themselves (ExcessMTL) refuse representation mode."""
    return balancer.needs_gradients and mode == "representation"


@pytest.mark.parametrize("mode", ["parameters", "representation"])
@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_every_gradient_method_trains_in_both_modes(method: str, mode: str, tiny_corpus, fresh_cache, tmp_path) -> None:
    import mtl.balancers

    balancer = getattr(mtl.balancers, method)()
    source = {"path": "json", "data_files": tiny_corpus}
    # two tasks over the same rows, so representation mode has one shared encoder pass
    tasks = [
        Task("det", "tagging", source, text="tokens", label="tags"),
        Task("sentiment", "classification", source, text="tokens", label="label"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=16, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    assert data.input_groups() == {"det": "det", "sentiment": "det"}
    model_args = dict(balancer=balancer, gradient_mode=mode, grad_clip=5.0, lr=1e-2, vocab_size=data.vocab_size)
    encoder = partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0)
    heads = {"det": TaggingHead, "sentiment": partial(ClassificationHead, pooling="max")}
    if refuses_representation(balancer, mode):
        with pytest.raises(ValueError, match="needs the task gradients of the shared parameters"):
            MultiTaskModule(encoder, heads, task_labels=data.task_labels, **model_args)
        return
    model = MultiTaskModule(encoder, heads, task_labels=data.task_labels, **model_args)
    before = [p.detach().clone() for p in model.encoder.parameters()]
    L.seed_everything(0)
    trainer = L.Trainer(
        max_steps=12,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        num_sanity_val_steps=0,
        limit_val_batches=2,
    )
    trainer.fit(model, data)
    assert all(not torch.equal(b, p) for b, p in zip(before, model.encoder.parameters()))
    weights = model.balancer.last_weights
    assert set(weights) == {"det", "sentiment"} and all(map(lambda w: w == w and abs(w) < 1e6, weights.values()))
    assert torch.isfinite(trainer.callback_metrics["train/loss_step"])


def test_gradient_geometry_is_logged_and_plotted(tiny_corpus, fresh_cache, tmp_path) -> None:
    from mtl.balancers import MGDA
    from mtl.callbacks import BalancerPlots

    data, model = build(tiny_corpus, MGDA())
    plots = BalancerPlots()
    L.seed_everything(0)
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        callbacks=[plots],
    )
    trainer.fit(model, data)
    metrics = trainer.callback_metrics
    pairs = [("sentiment", "det"), ("sentiment", "length"), ("det", "length")]
    for a, b in pairs:
        assert -1.0 - 1e-6 <= float(metrics[f"grad/cosine/{a}~{b}"]) <= 1.0 + 1e-6
    assert all(float(metrics[f"grad/{t}/norm"]) > 0 for t in ("sentiment", "det", "length"))
    assert set(plots.cosines) == set(pairs) and len(plots.weights["det"]) == trainer.global_step
    # MGDA's weights are a convex combination at every step
    for step in range(trainer.global_step):
        assert sum(plots.weights[t][step][1] for t in ("sentiment", "det", "length")) == pytest.approx(1.0, abs=1e-6)
    assert (tmp_path / "task_weights.png").stat().st_size > 1000
    assert (tmp_path / "gradient_conflict.png").stat().st_size > 1000


class UpdateNorms(L.Callback):
    """The gradient norm each optimiser step applied, read as the step ends (Lightning runs
    the backward and its clipping inside ``optimizer.step``; a gradient step clips before)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_train_start(self, trainer, pl_module) -> None:
        def record(optimizer, args, kwargs) -> None:
            grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            self.norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

        trainer.optimizers[0].register_step_post_hook(record)


@pytest.mark.parametrize("name", ["Sum", "UncertaintyWeighting", "PCGrad", "MGDA"])
def test_trainer_gradient_clip_val_clips_every_update_with_every_kind_of_balancer(
    name, tiny_corpus, fresh_cache, tmp_path
) -> None:
    import mtl.balancers

    data, model = build(tiny_corpus, getattr(mtl.balancers, name)())
    norms = UpdateNorms()
    L.seed_everything(0)
    trainer = L.Trainer(
        max_steps=4,
        gradient_clip_val=1e-3,  # far below these gradients' norms
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
        callbacks=[norms],
    )
    trainer.fit(model, data)
    assert len(norms.norms) == 4
    assert all(n <= 1e-3 * (1 + 1e-4) for n in norms.norms), norms.norms


@pytest.mark.parametrize("mode", ["parameters", "representation"])
@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_every_gradient_method_trains_a_pretrained_encoder_in_both_modes(
    method: str, mode: str, tiny_corpus, tiny_pretrained, tmp_path, monkeypatch
) -> None:
    """The same on a tiny pretrained BERT read with its own tokenizer: per-task gradients of
    its parameters, or of its output states, reach every layer."""
    import mtl.balancers
    from mtl.encoders import PretrainedEncoder

    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "cache"))
    directory = str(tiny_pretrained("bert"))
    source = {"path": "json", "data_files": tiny_corpus}
    tasks = [
        Task("det", "tagging", source, text="tokens", label="tags"),
        Task("sentiment", "classification", source, text="tokens", label="label"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=16, sampling="all", tokenizer=TokenizerSpec(pretrained=directory))
    balancer = getattr(mtl.balancers, method)()
    if refuses_representation(balancer, mode):
        return  # as in test_every_gradient_method_trains_in_both_modes
    model = MultiTaskModule(
        partial(PretrainedEncoder, model=directory, dropout=0.0),
        {"det": TaggingHead, "sentiment": partial(ClassificationHead, pooling="mean")},
        balancer=balancer, gradient_mode=mode, grad_clip=5.0, lr=1e-3,
        vocab_size=data.vocab_size, task_labels=data.task_labels, special_ids=data.special_ids,
    )  # fmt: skip
    layers = {n: p.detach().clone() for n, p in model.encoder.named_parameters() if ".layer." in n}
    L.seed_everything(0)
    trainer = L.Trainer(
        max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path,
        num_sanity_val_steps=0, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(model, data)
    trained = dict(model.encoder.named_parameters())
    assert all(not torch.equal(before, trained[n]) for n, before in layers.items())
    weights = model.balancer.last_weights
    assert set(weights) == {"det", "sentiment"} and all(w == w and abs(w) < 1e6 for w in weights.values())
    assert torch.isfinite(trainer.callback_metrics["train/loss_step"])
