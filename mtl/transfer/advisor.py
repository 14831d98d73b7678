"""Which transfer strategy fits: target data size x closeness to the source, four cases."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Thresholds:
    """Where the four cases divide.

    Args:
        small_data: training rows of the target below which its data counts as small.
        max_unk_rate: the target is similar only when at most this share of its
            sub-word tokens is ``[UNK]`` under the source tokenizer.
        max_distance: ... and when the normalised Fréchet distance between the source
            encoder's pooled representations of source and target text is at most this.
    """

    small_data: int = 10000
    max_unk_rate: float = 0.05
    max_distance: float = 0.5


@dataclass
class Measures:
    """What the advice rests on.

    Attributes:
        target_size: training rows of the target tasks.
        unk_rate: share of the target's sub-word tokens that are ``[UNK]`` under the source tokenizer.
        fertility: sub-word tokens per whitespace word of the target text (source: ``source_fertility``).
        source_fertility: the same on the source text.
        distance: normalised Fréchet distance of diagonal Gaussians fitted to the pooled
            representations: ``(|mu_s - mu_t|^2 + |sigma_s - sigma_t|^2) / |sigma_s|^2``.
        coral: CORAL distance of the covariances, normalised: ``|C_s - C_t|_F / |C_s|_F``.
    """

    target_size: int
    unk_rate: float
    fertility: float
    source_fertility: float
    distance: float
    coral: float


#: (small data, similar) -> strategy, and why
CASES: dict[tuple[bool, bool], tuple[str, str]] = {
    (True, True): ("freeze", "little data, close to the source: reuse the encoder as it is, train the heads"),
    (False, True): ("finetune", "much data, close to the source: fine-tune every layer (or freeze_lower)"),
    (True, False): ("freeze_lower", "little data, far from the source: keep the low-level layers, retrain the top"),
    (False, False): (
        "gradual_unfreeze",
        "much data, far from the source: fine-tune with gradual unfreezing (or train from scratch)",
    ),
}


@dataclass
class Advice:
    """A recommended strategy and the numbers behind it."""

    measures: Measures
    thresholds: Thresholds
    small: bool
    similar: bool
    strategy: str
    reason: str

    def table(self) -> str:
        m, t = self.measures, self.thresholds
        rows = [
            ("target training rows", f"{m.target_size}", f"small below {t.small_data}", "small" if self.small else "large"),
            ("[UNK] rate of target tokens", f"{m.unk_rate:.4f}", f"similar up to {t.max_unk_rate}", _verdict(m.unk_rate <= t.max_unk_rate)),
            ("representation distance (Frechet)", f"{m.distance:.4f}", f"similar up to {t.max_distance}", _verdict(m.distance <= t.max_distance)),
            ("CORAL distance (info)", f"{m.coral:.4f}", "", ""),
            ("sub-words per word, target / source", f"{m.fertility:.2f} / {m.source_fertility:.2f}", "", ""),
        ]  # fmt: skip
        lines = ["| measure | value | threshold | reading |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        case = f"{'small' if self.small else 'large'} data, {'similar' if self.similar else 'dissimilar'}"
        return "\n".join(lines) + f"\n\ncase: {case} -> strategy: {self.strategy} ({self.reason})"


def _verdict(ok: bool) -> str:
    return "similar" if ok else "dissimilar"


def recommend(measures: Measures, thresholds: Thresholds | None = None) -> Advice:
    """Place the target in one of the four cases and name the strategy for it."""
    thresholds = thresholds or Thresholds()
    small = measures.target_size < thresholds.small_data
    similar = measures.unk_rate <= thresholds.max_unk_rate and measures.distance <= thresholds.max_distance
    strategy, reason = CASES[(small, similar)]
    return Advice(measures, thresholds, small, similar, strategy, reason)
