"""A step with NaN/inf task gradients (an fp16 overflow) is skipped as if it had never
happened: every balancer's state, the parameters and the optimiser's moments equal those
of a run that never saw that step, and the loss scaler lowers its scale."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.utils.data import DataLoader

import mtl.balancers
from mtl import ClassificationHead, MultiTaskDataModule, MultiTaskModule, TaggingHead, Task, TokenizerSpec, TransformerEncoder

GRADIENT = [
    "MGDA", "PCGrad", "CAGrad", "IMTLG", "GradVac", "AlignedMTL", "NashMTL", "UPGrad", "GradNorm", "DBMTL",
    "ConFIG", "DualProj", "FairGrad", "ExcessMTL", "MoCo", "SDMGrad", "MoDo", "CRMOGM",
]  # fmt: skip
WEIGHTING = [
    "DynamicWeightAverage",
    "FAMO",
    "RandomLossWeighting",
    "UncertaintyWeighting",
    "GeometricMean",
    "StaticWeights",
    "Sum",
    "STCH",
]
SEEDED = {"PCGrad", "GradVac", "RandomLossWeighting"}  # their own generators are state too
SCALE, OVERFLOW = 2.0**8, 2.0**40  # fp16 gradients overflow at the second scale, not the first
SKIPPED = 1  # the batch whose gradients overflow


def make(name: str):
    cls = getattr(mtl.balancers, name)
    if name == "StaticWeights":
        return cls({"det": 2.0, "sentiment": 0.5})
    return cls(seed=0) if name in SEEDED else cls()


@pytest.fixture(scope="module")
def setup(tiny_corpus, tmp_path_factory):
    """The data's sizes and the first four training batches (two tasks over the same rows)."""
    source = {"path": "json", "data_files": tiny_corpus}
    tasks = [
        Task("det", "tagging", source, text="tokens", label="tags"),
        Task("sentiment", "classification", source, text="tokens"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=8, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTL_CACHE", str(tmp_path_factory.mktemp("mtl-cache")))
        data.setup("fit")
        loader = iter(data.train_dataloader())
        batches = [next(loader) for _ in range(4)]
    return data.vocab_size, data.task_labels, batches


class Overflow(L.Callback):
    """Sets the loss scale so high at batch ``SKIPPED`` that the fp16 gradients overflow;
    records the scale each batch starts with."""

    def __init__(self, scaler: torch.amp.GradScaler, overflow: bool) -> None:
        self.scaler, self.overflow, self.scales = scaler, overflow, []
        self.calls: list = []  # the balancer's inputs (Gram matrices, or losses)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.overflow and batch_idx == SKIPPED:
            self.scaler.update(new_scale=OVERFLOW)
        self.scales.append(self.scaler.get_scale())


def fit(setup, name: str, overflow: bool, tmp_path):
    vocab_size, task_labels, batches = setup
    if not overflow:
        batches = [b for i, b in enumerate(batches) if i != SKIPPED]  # the run that never saw it
    torch.manual_seed(0)
    model = MultiTaskModule(
        partial(TransformerEncoder, dim=16, num_layers=1, num_heads=2, ff_dim=32, dropout=0.0),
        {"det": partial(TaggingHead, dropout=0.0), "sentiment": partial(ClassificationHead, pooling="max", dropout=0.0)},
        balancer=make(name),
        lr=1e-2,
        schedule="constant",
        vocab_size=vocab_size,
        task_labels=task_labels,
    )
    # back-off from the overflowing scale lands exactly on SCALE again
    scaler = torch.amp.GradScaler("cpu", init_scale=SCALE, backoff_factor=SCALE / OVERFLOW, growth_interval=10**6)
    callback = Overflow(scaler, overflow)
    model.balancer.register_forward_hook(lambda module, args, out: callback.calls.append(args[0]))
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, default_root_dir=tmp_path, callbacks=[callback],
        plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)],
    )  # fmt: skip
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))  # these batches, in order
    return model, trainer.optimizers[0], callback


def balancer_state(balancer) -> dict:
    state = {k: v for k, v in balancer.state_dict().items()}
    if getattr(balancer, "_generator", None) is not None:
        state["generator"] = balancer._generator.get_state()
    if isinstance(balancer, mtl.balancers.DynamicWeightAverage):
        state["history"], state["weights"] = balancer.history, balancer.weights
    return state


def assert_same(a, b, what: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), what
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for key in a:
            assert_same(a[key], b[key], f"{what}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{what}[{i}]")
    else:
        assert a == b, what


@pytest.mark.parametrize("name", GRADIENT + WEIGHTING)
def test_an_overflowed_step_leaves_no_trace(name: str, setup, tmp_path) -> None:
    skipped, optimizer, seen = fit(setup, name, overflow=True, tmp_path=tmp_path / "a")
    never, never_optimizer, _ = fit(setup, name, overflow=False, tmp_path=tmp_path / "b")
    assert seen.scales[SKIPPED] == OVERFLOW and seen.scales[SKIPPED + 1] == SCALE  # the scaler saw the inf and backed off
    if name in GRADIENT:  # no balancer sees the non-finite Gram matrix
        assert len(seen.calls) == 3 and all(torch.isfinite(gram).all() for gram in seen.calls)
    assert_same(balancer_state(skipped.balancer), balancer_state(never.balancer), "balancer")
    assert_same(dict(skipped.named_parameters()), dict(never.named_parameters()), "parameters")
    assert_same(optimizer.state_dict()["state"], never_optimizer.state_dict()["state"], "optimizer")
    assert all(torch.isfinite(p).all() for p in skipped.parameters())


@pytest.mark.parametrize("name", GRADIENT)
def test_a_balancer_refuses_a_nonfinite_gram_matrix_and_keeps_its_state(name: str) -> None:
    balancer = make(name)
    gram = torch.tensor([[1.0, 0.2, 0.1], [0.2, 2.0, 0.3], [0.1, 0.3, 1.5]], dtype=torch.float64)
    losses = torch.tensor([0.7, 1.1, 0.4], dtype=torch.float64)
    jac = torch.linalg.cholesky(gram)  # (T, T) task gradients (rows) with this Gram matrix
    extra = (jac,) if balancer.needs_gradients else ()  # the gradients themselves, for those that need them
    balancer(gram, losses, *extra)  # state from one ordinary step
    before = balancer_state(balancer)
    for bad in (float("nan"), float("inf")):
        broken = gram.clone()
        broken[1, :] = broken[:, 1] = bad
        with pytest.raises(
            ValueError,
            match=rf"{name}: the Gram matrix of the task gradients has NaN or infinite entries \(tasks at positions \[1\]\)",
        ):
            balancer(broken, losses, *extra)
        if extra:
            broken_jac = jac.clone()
            broken_jac[2, 0] = bad
            with pytest.raises(ValueError, match=rf"{name}: the matrix of the task gradients has NaN .*positions \[2\]"):
                balancer(gram, losses, broken_jac)
    assert_same(balancer_state(balancer), before, "balancer")
    weights = balancer(gram, losses, *extra)
    assert torch.isfinite(weights).all()


class _NaNGradient(torch.autograd.Function):
    """Identity forward; a NaN gradient backward (a finite loss with a broken backward)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("nan")


class NaNGradientHead(ClassificationHead):
    def forward(self, encoded, batch):
        return _NaNGradient.apply(super().forward(encoded, batch))


def test_nan_gradients_without_a_scaler_skip_steps_then_stop_with_a_clear_message(setup, tmp_path) -> None:
    vocab_size, task_labels, batches = setup
    model = MultiTaskModule(
        partial(TransformerEncoder, dim=16, num_layers=1, num_heads=2, ff_dim=32, dropout=0.0),
        {"det": TaggingHead, "sentiment": partial(NaNGradientHead, pooling="max")},
        balancer=mtl.balancers.MGDA(),
        max_nonfinite_steps=3,
        vocab_size=vocab_size,
        task_labels=task_labels,
    )
    calls = []
    model.balancer.register_forward_hook(lambda module, args, out: calls.append(args))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = L.Trainer(
        max_steps=10, logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    message = r"NaN or infinite gradients from tasks \['sentiment'\] for 3 steps in a row, since step 0.*--ckpt_path"
    with pytest.raises(FloatingPointError, match=message):
        trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))
    assert calls == []
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "a skipped step changed the weights"
