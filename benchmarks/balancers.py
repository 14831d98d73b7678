"""Cost of every loss balancer: ms per training step and peak memory, next to torchjd and LibMTL.

Workload: ``T`` classification tasks (3 labels, one linear head each) over one shared
encoder — a 2-layer BiLSTM (embed 256, 128 per direction) or a 2-layer Transformer (dim
256, 4 heads, ff 1024) — batch 32 x length 64 per task, AdamW. One step = forward every
task, combine, optimiser step. Two input layouts:

- *separate inputs*: every task its own batch (different token ids, same shapes), so one
  encoder pass per task. Loss weighting methods, our ``parameters`` mode, torchjd and
  LibMTL's parameter-gradient mode run here.
- *shared input*: one batch read by every task (one encoder pass, own labels per task), as
  our ``representation`` mode requires; LibMTL's ``rep_grad=True`` runs here.

Every ratio is to our ``Sum`` on the same layout. Ours runs through ``MultiTaskModule`` in a
minimal Lightning ``Trainer`` (logging included, as in training); peers run in a plain
PyTorch loop on identical encoder/head modules, batches and optimiser.

Every (library, method, mode, encoder, T) configuration runs in a fresh subprocess (this
script with ``--single``). Time: median per-step wall time after the warm-up. Memory on
CPU: the child resets its peak-RSS counter after imports, model and batch construction
(``echo 5 > /proc/self/clear_refs``, Linux >= 4.0), takes ``VmRSS`` there, and reports
``VmHWM`` at the end minus that; without the reset, ``VmHWM`` may still hold a setup peak
(the table says which was used). On CUDA: ``torch.cuda.max_memory_allocated`` after a reset,
minus the memory allocated after setup.

Peers: torchjd from the package registry (``make bench-balancers`` installs it into
``.venv-bench``); LibMTL from the source tree named by ``LIBMTL_SRC`` (its registry release
does not import with current torch). Only ``LibMTL/weighting/<Method>.py`` is imported: a stub
``LibMTL`` package module is registered so that ``LibMTL/__init__.py`` (which pulls in its
trainer, ``torch_geometric`` and every method's optional solver) never runs. LibMTL's tree
is read, never changed.

    make bench-balancers                 # LIBMTL_SRC=/path/to/LibMTL make bench-balancers
    python benchmarks/balancers.py --tasks 2 --encoders lstm --methods Sum MGDA --steps 10
    python benchmarks/balancers.py --layouts shared --peers --steps 20 --output benchmarks/results/representation.md
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from functools import partial
from pathlib import Path

import lightning as L
import torch

import mtl.balancers as B
from mtl import ClassificationHead, LSTMEncoder, MultiTaskModule, TransformerEncoder
from mtl.encoders.output import EncoderOutput

sys.path.insert(0, str(Path(__file__).parent))
from overhead import _Batches, _StepTimer  # noqa: E402  (same timing as bench-overhead)

LABELS = ["a", "b", "c"]
WEIGHTING = [
    "Sum",
    "StaticWeights",
    "UncertaintyWeighting",
    "DynamicWeightAverage",
    "RandomLossWeighting",
    "FAMO",
    "GeometricMean",
    "STCH",
]
GRADIENT = [
    "MGDA", "PCGrad", "CAGrad", "IMTLG", "AlignedMTL", "NashMTL", "GradVac", "UPGrad", "DBMTL", "GradNorm",
    "ConFIG", "DualProj", "FairGrad", "ExcessMTL",
]  # fmt: skip
GRADIENT += ["MoCo", "SDMGrad", "MoDo", "CRMOGM"]
ALIASES = {"dwa": "DynamicWeightAverage", "rlw": "RandomLossWeighting", "uw": "UncertaintyWeighting", "imtl": "IMTLG"}

# Our method -> (torchjd aggregator factory(T), LibMTL class name, LibMTL kwargs); None where the peer lacks it.
# Hyper-parameters follow our defaults.
TORCHJD = {
    "MGDA": lambda T, A: A.MGDA(),
    "PCGrad": lambda T, A: A.PCGrad(),
    "CAGrad": lambda T, A: A.CAGrad(c=0.4),
    "IMTLG": lambda T, A: A.IMTLG(),
    "AlignedMTL": lambda T, A: A.AlignedMTL(),
    "NashMTL": lambda T, A: A.NashMTL(n_tasks=T),
    "GradVac": lambda T, A: A.GradVac(beta=0.01),
    "UPGrad": lambda T, A: A.UPGrad(),
    "ConFIG": lambda T, A: A.ConFIG(),
    "DualProj": lambda T, A: A.DualProj(),
}
# torchjd aggregators that are not weights of the Gramian: no ``autogram`` row.
TORCHJD_NO_GRAMIAN = {"ConFIG"}
LIBMTL = {
    "Sum": ("EW", {}),
    "UncertaintyWeighting": ("UW", {}),
    "DynamicWeightAverage": ("DWA", {"T": 2.0}),
    "RandomLossWeighting": ("RLW", {}),
    "FAMO": ("FAMO", {"FAMO_w_lr": 0.025, "FAMO_w_gamma": 1e-3}),
    "MGDA": ("MGDA", {"mgda_gn": "none"}),
    "PCGrad": ("PCGrad", {}),
    "CAGrad": ("CAGrad", {"calpha": 0.4, "rescale": 1}),
    "IMTLG": ("IMTL", {}),
    "AlignedMTL": ("Aligned_MTL", {}),
    "NashMTL": ("Nash_MTL", {"update_weights_every": 1, "optim_niter": 20, "max_norm": 1.0}),
    "GradVac": ("GradVac", {"GradVac_beta": 0.01, "GradVac_group_type": 0}),
    "UPGrad": ("UPGrad", {"UPGrad_norm_eps": 1e-4, "UPGrad_reg_eps": 1e-4}),
    "DBMTL": ("DB_MTL", {"DB_beta": 0.9, "DB_beta_sigma": 0.5}),
    "GradNorm": ("GradNorm", {"alpha": 1.5}),
    "STCH": ("STCH", {"STCH_mu": 1.0, "STCH_warmup_epoch": 4}),  # warm-up branch, as ours in one epoch
    "FairGrad": ("FairGrad", {"FairGrad_alpha": 1.0}),
    "ExcessMTL": ("ExcessMTL", {"robust_step_size": 1e-2}),
}
LIBMTL |= {
    "MoCo": ("MoCo", {"MoCo_beta": 0.5, "MoCo_beta_sigma": 0.5, "MoCo_gamma": 0.1, "MoCo_gamma_sigma": 0.5, "MoCo_rho": 0.0}),
    "SDMGrad": ("SDMGrad", {"SDMGrad_lamda": 0.3, "SDMGrad_niter": 20}),
    "MoDo": ("MoDo", {"MoDo_gamma": 1e-3, "MoDo_rho": 0.1}),
}
# LibMTL's Trainer draws three samples per step for these (their losses are (3, T)): the
# step's batch is read three times, three forward passes as there.
LIBMTL_SAMPLES = {"SDMGrad": 3, "MoDo": 3}

# LibMTL methods that refuse rep_grad=True (they raise "No support method ... with
# representation gradients"); not launched in the shared-input layout.
LIBMTL_NO_REP_GRAD = {"CAGrad", "DBMTL", "FairGrad", "GradVac", "NashMTL", "PCGrad", "UPGrad"}
LIBMTL_NO_REP_GRAD |= {"MoCo", "SDMGrad", "MoDo"}


# -- workload ------------------------------------------------------------------------------
def task_names(T: int) -> list[str]:
    return [f"task{i}" for i in range(T)]


def make_batches(cfg: dict, device: torch.device) -> list[dict[str, dict]]:
    """``steps + warmup`` steps of ``T`` task batches; ``shared``: one input read by all tasks."""
    g = torch.Generator().manual_seed(0)
    B_, N, V = cfg["batch"], cfg["length"], cfg["vocab"]
    out = []
    for _ in range(cfg["steps"] + cfg["warmup"]):
        step, shared = {}, None
        for task in task_names(cfg["T"]):
            if shared is None or not cfg["shared"]:
                lengths = torch.randint(N // 2, N + 1, (B_,), generator=g)
                mask = torch.arange(N)[None, :] < lengths[:, None]  # (B, N)
                ids = torch.randint(5, V, (B_, N), generator=g).masked_fill(~mask, 0)  # (B, N)
                shared = (ids, mask)
            ids, mask = shared
            batch = {"task": task, "input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
            batch["labels"] = torch.randint(0, len(LABELS), (B_,), generator=g)
            if cfg["shared"]:
                batch["group"] = "shared"
            step[task] = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        out.append(step)
    return out


def encoder_factory(cfg: dict):
    h = cfg["hidden"]
    if cfg["encoder"] == "lstm":
        return partial(LSTMEncoder, embed_dim=h, hidden_dim=h // 2, num_layers=2, bidirectional=True)
    return partial(TransformerEncoder, dim=h, num_layers=2, num_heads=4, ff_dim=4 * h)


def make_balancer(name: str, T: int):
    if name == "StaticWeights":
        return B.StaticWeights({t: 1.0 / (i + 1) for i, t in enumerate(task_names(T))})
    return getattr(B, name)()


def make_module(cfg: dict) -> MultiTaskModule:
    torch.manual_seed(0)
    names = task_names(cfg["T"])
    return MultiTaskModule(
        encoder_factory(cfg),
        {t: partial(ClassificationHead, hidden_dim=0) for t in names},
        balancer=make_balancer(cfg["method"], cfg["T"]),
        gradient_mode=cfg["mode"] if cfg["mode"] in ("parameters", "representation") else "parameters",
        lr=1e-3,
        schedule="constant",
        vocab_size=cfg["vocab"],
        task_labels={t: LABELS for t in names},
    )


def adamw(named) -> torch.optim.AdamW:
    """The module's optimiser: AdamW, no decay on biases and norm weights."""
    decay = [p for n, p in named if p.requires_grad and p.ndim >= 2 and "norm" not in n]
    rest = [p for n, p in named if p.requires_grad and not (p.ndim >= 2 and "norm" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)


# -- one configuration (child process) -----------------------------------------------------
def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


class Memory:
    """Peak memory growth over the steps: CUDA allocator stats, or the process's RSS."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.reset = False
        self.base = 0

    def start(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.reset = True
        except OSError:
            self.reset = False
        self.base = _status("VmRSS")

    def peak(self) -> int:
        if self.cuda:
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - self.base
        return _status("VmHWM") - self.base


def run_ours(cfg: dict, batches, device, memory: Memory) -> list[float]:
    module = make_module(cfg)
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
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1,
    )
    memory.start()
    trainer.fit(module, train_dataloaders=_Batches(batches))
    return [b - a for a, b in zip(timer.starts, timer.starts[1:])]


def _plain_model(cfg: dict, device):
    torch.manual_seed(0)
    encoder = encoder_factory(cfg)(cfg["vocab"])
    heads = torch.nn.ModuleDict({t: ClassificationHead(encoder.out_dim, LABELS, hidden_dim=0) for t in task_names(cfg["T"])})
    return encoder.to(device), heads.to(device)


def _loop(step_fn, batches, device) -> list[float]:
    times = []
    for step in batches:
        start = time.perf_counter()
        step_fn(step)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def _encode_all(encoder, step: dict) -> dict[str, EncoderOutput]:
    """One encoder pass per input (tasks with the same ``group`` share one)."""
    done, out = {}, {}
    for task, b in step.items():
        key = b.get("group", task)
        if key not in done:
            done[key] = encoder(b["input_ids"], b["attention_mask"])
        out[task] = done[key]
    return out


def run_plain(cfg: dict, batches, device, memory: Memory) -> list[float]:
    """A hand-written loop summing the losses: what the peers' loops cost without a method."""
    encoder, heads = _plain_model(cfg, device)
    params = list(encoder.named_parameters()) + list(heads.named_parameters())
    optimizer = adamw(params)
    encoder.train(), heads.train()

    def step_fn(step):
        optimizer.zero_grad(set_to_none=True)
        encoded = _encode_all(encoder, step)
        sum(heads[t].loss(heads[t](encoded[t], b), b) for t, b in step.items()).backward()
        optimizer.step()

    memory.start()
    return _loop(step_fn, batches, device)


def run_torchjd(cfg: dict, batches, device, memory: Memory) -> list[float]:
    """torchjd ``autojac``: ``mtl_backward`` (Jacobian of the shared parameters through the
    per-task features; heads get their own gradients) then ``jac_to_grad`` with the
    aggregator. ``autogram``: the Engine's Gramian over the encoder, the aggregator's
    weighting, one weighted backward (``batch_dim=None``: the LSTM is not batch-first inside)."""
    from torchjd import aggregation as A
    from torchjd.autojac import jac_to_grad, mtl_backward

    aggregator = TORCHJD[cfg["method"]](cfg["T"], A)
    encoder, heads = _plain_model(cfg, device)
    optimizer = adamw(list(encoder.named_parameters()) + list(heads.named_parameters()))
    shared = [p for p in encoder.parameters() if p.requires_grad]
    encoder.train(), heads.train()
    if cfg["mode"] == "autogram":
        from torchjd.autogram import Engine

        engine = Engine(encoder, batch_dim=None)
        weighting = aggregator.gramian_weighting if hasattr(aggregator, "gramian_weighting") else aggregator.weighting

    def step_fn(step):
        optimizer.zero_grad(set_to_none=True)
        encoded = _encode_all(encoder, step)
        losses = [heads[t].loss(heads[t](encoded[t], b), b) for t, b in step.items()]
        if cfg["mode"] == "autogram":
            stacked = torch.stack(losses)  # (T,)
            weights = weighting(engine.compute_gramian(stacked))
            stacked.backward(weights)
        else:
            features = list({id(o.pooled): o.pooled for o in encoded.values()}.values())
            mtl_backward(
                losses, features=features, tasks_params=[list(heads[t].parameters()) for t in step], shared_params=shared
            )
            jac_to_grad(shared, aggregator)
        optimizer.step()

    memory.start()
    return _loop(step_fn, batches, device)


def import_libmtl(src: str, name: str):
    """``LibMTL.weighting.<name>`` from the tree at ``src`` without running its package
    ``__init__`` files (they import the trainer, torch_geometric and every solver)."""
    root = Path(src).resolve() / "LibMTL"
    for pkg, path in (("LibMTL", root), ("LibMTL.weighting", root / "weighting")):
        if pkg not in sys.modules:
            module = types.ModuleType(pkg)
            module.__path__ = [str(path)]
            sys.modules[pkg] = module
    return getattr(importlib.import_module(f"LibMTL.weighting.{name}"), name)


def run_libmtl(cfg: dict, batches, device, memory: Memory) -> list[float]:
    """LibMTL's ``AbsArchitecture`` + weighting class (as its Trainer builds ``MTLmodel``)
    around our encoder and heads; ``parameters`` and ``loss``: ``rep_grad=False, multi_input=True``;
    ``representation``: ``rep_grad=True, multi_input=False`` on the shared input, the
    representation being the ``pooled`` vector the heads read."""
    name, kwargs = LIBMTL[cfg["method"]]
    weighting_cls = import_libmtl(cfg["libmtl_src"], name)
    from LibMTL.architecture.abstract_arch import AbsArchitecture

    encoder, heads = _plain_model(cfg, device)
    rep_grad = cfg["mode"] == "representation"
    tasks = task_names(cfg["T"])

    class MTLmodel(AbsArchitecture, weighting_cls):
        def __init__(self) -> None:
            super().__init__(tasks, None, heads, rep_grad, not rep_grad, device)
            self.encoder = encoder
            self.epoch, self.epochs = 2, 3  # DWA and GradNorm run their adaptive branch
            self.train_loss_buffer = torch.ones(len(tasks), 3).numpy()
            self.init_param()

    model = MTLmodel()
    optimizer = adamw(list(model.named_parameters()))
    model.train()

    def forward_losses(step):
        encoded = _encode_all(encoder, step)
        losses = []
        for t in tasks:
            out = encoded[t]
            pooled = model._prepare_rep(out.pooled, t, same_rep=not model.multi_input) if rep_grad else out.pooled
            losses.append(heads[t].loss(heads[t](EncoderOutput(out.hidden, pooled, out.mask), step[t]), step[t]))
        return torch.stack(losses)  # (T,)

    def step_fn(step):
        optimizer.zero_grad(set_to_none=False)  # as LibMTL's Trainer
        samples = LIBMTL_SAMPLES.get(name, 1)
        losses = torch.stack([forward_losses(step) for _ in range(samples)]) if samples > 1 else forward_losses(step)
        model.backward(losses, **kwargs)
        optimizer.step()
        if name == "FAMO":  # LibMTL's Trainer re-evaluates the batch after the step
            with torch.no_grad():
                model.update_w(forward_losses(step).detach())

    memory.start()
    return _loop(step_fn, batches, device)


def single(cfg: dict) -> dict:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batches = make_batches(cfg, device)
    memory = Memory(device)
    runner = {"mtl": run_ours, "plain": run_plain, "torchjd": run_torchjd, "LibMTL": run_libmtl}[cfg["library"]]
    times = runner(cfg, batches, device, memory)[cfg["warmup"] :]
    return {"ms": statistics.median(times) * 1e3, "peak": memory.peak(), "rss_reset": memory.reset, "device": str(device)}


# -- the sweep (parent process) ------------------------------------------------------------
def configurations(args, libmtl_src: str | None) -> list[dict]:
    methods = ["Sum"] + [m for m in args.methods if m != "Sum"]
    rows = []  # (layout, library, method, mode)
    for shared in [layout == "shared" for layout in args.layouts]:
        rows.append((shared, "mtl", "Sum", "loss"))
        if args.peers:
            rows.append((shared, "plain", "Sum", "loop"))
        if libmtl_src and not shared:  # LibMTL's EW under rep_grad would not train the encoder
            rows.append((shared, "LibMTL", "Sum", "loss"))
        for m in methods[1:]:
            gradient = m in GRADIENT
            if not shared and not gradient:
                rows.append((shared, "mtl", m, "loss"))
                if libmtl_src and m in LIBMTL:
                    rows.append((shared, "LibMTL", m, "loss"))
            if gradient:
                mode = "representation" if shared else "parameters"
                if not (shared and getattr(B, m).needs_gradients):  # those refuse representation mode
                    rows.append((shared, "mtl", m, mode))
                if "torchjd" in args.peers and m in TORCHJD and not shared:
                    rows.append((shared, "torchjd", m, "autojac"))
                    if m not in TORCHJD_NO_GRAMIAN:
                        rows.append((shared, "torchjd", m, "autogram"))
                if libmtl_src and m in LIBMTL and not (shared and m in LIBMTL_NO_REP_GRAD):
                    rows.append((shared, "LibMTL", m, mode))
    base = {k: getattr(args, k) for k in ("batch", "length", "hidden", "vocab", "steps", "warmup")}
    return [  # one encoder after the other, so an interrupted run leaves whole tables
        dict(base, shared=s, library=lib, method=m, mode=mode, encoder=enc, T=T, libmtl_src=libmtl_src)
        for enc in args.encoders
        for s, lib, m, mode in rows
        for T in args.tasks
    ]


def run_child(cfg: dict, timeout: int) -> dict:
    cmd = [sys.executable, __file__, "--single", json.dumps(cfg)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
    return {"error": (lines[-1] if lines else f"exit {proc.returncode}")[:160]}


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _libmtl_commit(src: str) -> str:
    try:
        out = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown commit (not a git checkout)"
    except OSError:
        return "unknown commit"


def _cell(r: dict, ref: dict | None, key: str) -> str:
    if "error" in r:
        return "error: " + r["error"].replace("|", "/")
    value = r[key]
    shown = f"{value:.1f}" if key == "ms" else f"{value / 2**20:.1f} MB"
    if ref and "error" not in ref and ref[key] > 0:
        shown += f" ({value / ref[key]:.2f}x)"
    return shown


def render(args, configs: list[dict], results: list[dict], libmtl_line: str) -> str:
    cols = [(e, T) for e in args.encoders for T in args.tasks]
    table: dict[tuple, dict] = {}
    for cfg, r in zip(configs, results):
        table[(cfg["shared"], cfg["library"], cfg["method"], cfg["mode"], cfg["encoder"], cfg["T"])] = r
    rows = list(dict.fromkeys((c["shared"], c["library"], c["method"], c["mode"]) for c in configs))
    devices = {r.get("device") for r in results if "device" in r}
    reset = all(r.get("rss_reset", True) for r in results if "error" not in r)
    header = " | ".join(f"{e} T={T}" for e, T in cols)
    lines = [
        "# Loss balancers: time and peak memory per training step",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, device {', '.join(sorted(devices)) or '?'}; "
        f"threads {os.environ.get('OMP_NUM_THREADS', 'unset')} (OMP_NUM_THREADS); torch {torch.__version__}, "
        f"lightning {L.__version__}, torchjd {_version('torchjd')}; LibMTL: {libmtl_line}.",
        "",
        f"Workload: T classification tasks (3 labels, linear head each) on one shared encoder (2-layer BiLSTM, or "
        f"2-layer pre-LN Transformer with 4 heads and ff {4 * args.hidden}), hidden {args.hidden}, vocabulary {args.vocab}, "
        f"batch {args.batch} x length {args.length} per task, AdamW; median of {args.steps} steps after {args.warmup} "
        "warm-up steps, each configuration in a fresh process. *Separate inputs*: each task its own batch; "
        "*shared input*: one batch read by all tasks (required by representation mode). Ratios are to our `Sum` on the "
        "same inputs. Ours = `MultiTaskModule` in a Lightning `Trainer` (logging included); `plain`, torchjd and LibMTL "
        "= plain PyTorch loops on the same modules and batches. LibMTL refuses representation gradients for "
        f"{', '.join(sorted(LIBMTL_NO_REP_GRAD))}, so those have no LibMTL row on the shared input; ours refuses it for "
        f"{', '.join(m for m in GRADIENT if getattr(B, m).needs_gradients)} (it needs the parameter gradients themselves).",
        "",
        "Targets: parameters mode at most 0.75x the faster peer's time for the same method; representation mode at "
        "most 1.15x `Sum`; FAMO at most 1.1x `Sum`; peak memory above the setup at most 1.5x `Sum`.",
        "",
    ]
    for title, key in (("ms per step (ratio to `Sum`)", "ms"), ("peak memory above setup (ratio to `Sum`)", "peak")):
        lines += [f"## {title}", "", f"| inputs | method | library | mode | {header} |", "|---|---|---|---|" + "---|" * len(cols)]
        for shared, lib, m, mode in rows:
            cells = []
            for e, T in cols:
                r = table.get((shared, lib, m, mode, e, T), {"error": "not run"})
                cells.append(_cell(r, table.get((shared, "mtl", "Sum", "loss", e, T)), key))
            lines.append(f"| {'shared' if shared else 'separate'} | {m} | {lib} | {mode} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Targets", "", f"| check | {header} |", "|---|" + "---|" * len(cols)]
    for shared, lib, m, mode in rows:
        if lib != "mtl" or m == "Sum":
            continue
        checks = []
        if mode == "parameters":
            checks.append(("time vs. faster peer <= 0.75", "peer"))
        if mode == "representation":
            checks.append(("time vs. Sum <= 1.15", 1.15))
        if m == "FAMO":
            checks.append(("time vs. Sum <= 1.1", 1.1))
        checks.append(("memory vs. Sum <= 1.5", 1.5))
        for label, target in checks:
            cells = []
            for e, T in cols:
                r = table.get((shared, lib, m, mode, e, T), {"error": "x"})
                ref = table.get((shared, "mtl", "Sum", "loss", e, T), {"error": "x"})
                key = "peak" if label.startswith("memory") else "ms"
                limit = target
                if target == "peer":
                    peers = [
                        v
                        for (s, pl, pm, _, pe, pT), v in table.items()
                        if (s, pm, pe, pT) == (shared, m, e, T) and pl in ("torchjd", "LibMTL") and "error" not in v
                    ]
                    ref, limit = (min(peers, key=lambda v: v["ms"]) if peers else {"error": "x"}), 0.75
                if "error" in r or "error" in ref or ref[key] <= 0:
                    cells.append("n/a")
                    continue
                ratio = r[key] / ref[key]
                cells.append(f"{ratio:.2f} {'ok' if ratio <= limit else 'MISS'}")
            lines.append(f"| {m} {mode}: {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Memory: "
        + (
            "the peak RSS counter was reset after setup (`/proc/self/clear_refs`), so each value is the peak above setup"
            if reset
            else "the peak RSS counter could not be reset: values are `VmHWM - VmRSS` after setup and may include a setup peak"
        )
        + " (CPU), or `torch.cuda.max_memory_allocated` (CUDA).",
        "",
        "Command: `make bench-balancers` (LibMTL: `LIBMTL_SRC=/path/to/LibMTL make bench-balancers`)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--encoders", nargs="+", choices=["lstm", "transformer"], default=["lstm", "transformer"])
    parser.add_argument(
        "--layouts",
        nargs="+",
        choices=["separate", "shared"],
        default=["separate", "shared"],
        help="separate inputs (loss weighting, parameters mode) and/or the shared input (representation mode)",
    )
    parser.add_argument("--methods", nargs="+", default=WEIGHTING + GRADIENT, help="our balancer classes (Sum is always run)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=16000)
    parser.add_argument("--peers", nargs="*", choices=["torchjd", "libmtl"], default=["torchjd", "libmtl"])
    parser.add_argument("--timeout", type=int, default=900, help="seconds per configuration")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "balancers.md"))
    parser.add_argument("--resume", action="store_true", help="keep the results already in --output's JSON; run the rest")
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.single:
        print("RESULT " + json.dumps(single(json.loads(args.single))), flush=True)
        return

    known = {m.lower(): m for m in WEIGHTING + GRADIENT} | ALIASES
    unknown = [m for m in args.methods if m.lower() not in known]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {WEIGHTING + GRADIENT}")
    args.methods = list(dict.fromkeys(known[m.lower()] for m in args.methods))
    libmtl_src = os.environ.get("LIBMTL_SRC") if "libmtl" in args.peers else None
    if "libmtl" not in args.peers:
        libmtl_line = "skipped: not in --peers"
    elif not libmtl_src:
        libmtl_line = "skipped: LIBMTL_SRC unset"
        print("LibMTL skipped: LIBMTL_SRC is unset (point it at a LibMTL source checkout to include it)", file=sys.stderr)
    elif not (Path(libmtl_src) / "LibMTL" / "weighting").is_dir():
        parser.error(f"LIBMTL_SRC={libmtl_src} has no LibMTL/weighting folder; point it at LibMTL's repository root")
    else:
        libmtl_line = f"{Path(libmtl_src).resolve()} at {_libmtl_commit(libmtl_src)}"
    if "torchjd" in args.peers and _version("torchjd") == "not installed":
        print("torchjd is not installed in this environment; its rows will show the import error", file=sys.stderr)

    configs = configurations(args, libmtl_src)
    done = _measured(args.output) if args.resume else {}
    results = []
    for i, cfg in enumerate(configs, 1):
        r = done.get(_key(cfg)) or run_child(cfg, args.timeout)
        results.append(r)
        what = f"{cfg['library']}/{cfg['method']}/{cfg['mode']}/{cfg['encoder']}/T={cfg['T']}/{'shared' if cfg['shared'] else 'separate'}"
        print(
            f"[{i}/{len(configs)}] {what}: " + (r["error"] if "error" in r else f"{r['ms']:.1f} ms, {r['peak'] / 2**20:.1f} MB"),
            flush=True,
        )
        # Written after every configuration, so an interrupted run keeps what it measured
        # (cells not reached yet read "not run").
        text = render(args, configs[:i], results, libmtl_line)
        write_results(args.output, text, configs[:i], results)
    print(text)


def _key(cfg: dict) -> tuple:
    return tuple(
        cfg[k]
        for k in ("shared", "library", "method", "mode", "encoder", "T", "batch", "length", "hidden", "vocab", "steps", "warmup")
    )


def _measured(output: str) -> dict[tuple, dict]:
    """Results already in ``output``'s JSON (``--resume``), by configuration; errors are re-run."""
    path = Path(output).with_suffix(".json")
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    fields = ("ms", "peak", "device", "rss_reset")
    return {_key(r): {k: r[k] for k in fields if k in r} for r in raw if "error" not in r and "ms" in r}


def write_results(output: str, text: str, configs: list[dict], results: list[dict]) -> None:
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    raw = [cfg | result for cfg, result in zip(configs, results)]
    path.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")


if __name__ == "__main__":
    main()
