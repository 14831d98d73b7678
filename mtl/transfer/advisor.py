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
        max_fertility: when the distance is not measured (a pretrained source without
            reference text): ... and when the source tokenizer splits the target's words
            into at most this many sub-words each on average (text far from what the
            tokenizer was made for falls apart into many short pieces).
    """

    small_data: int = 10000
    max_unk_rate: float = 0.05
    max_distance: float = 0.5
    max_fertility: float = 2.0


@dataclass
class Measures:
    """What the advice rests on.

    Attributes:
        target_size: training rows of the target tasks.
        unk_rate: share of the target's sub-word tokens that are the source tokenizer's
            unknown token (``[UNK]``, ``<unk>``, ...).
        fertility: sub-word tokens per word of the target text (source: ``source_fertility``).
        source_fertility: the same on the source (or reference) text; None without one.
        distance: normalised Fréchet distance of diagonal Gaussians fitted to the pooled
            representations: ``(|mu_s - mu_t|^2 + |sigma_s - sigma_t|^2) / |sigma_s|^2``;
            None when not measured (then ``unmeasured`` says why).
        coral: CORAL distance of the covariances, normalised: ``|C_s - C_t|_F / |C_s|_F``; None likewise.
        unmeasured: why the distances were not measured ("" when they were).
    """

    target_size: int
    unk_rate: float
    fertility: float
    source_fertility: float | None
    distance: float | None
    coral: float | None
    unmeasured: str = ""


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
        measured = m.distance is not None
        if measured:
            distance = (f"{m.distance:.4f}", f"similar up to {t.max_distance}", _verdict(m.distance <= t.max_distance))
            coral = (f"{m.coral:.4f}", "", "")
            fertility = ("", "")  # the distance judges closeness; sub-words per word is information
        else:
            distance = ("not measured", "", "")
            coral = ("not measured", "", "")
            fertility = (f"similar up to {t.max_fertility}", _verdict(m.fertility <= t.max_fertility))
        source_fertility = "-" if m.source_fertility is None else f"{m.source_fertility:.2f}"
        rows = [
            ("target training rows", f"{m.target_size}", f"small below {t.small_data}", "small" if self.small else "large"),
            ("[UNK] rate of target tokens", f"{m.unk_rate:.4f}", f"similar up to {t.max_unk_rate}", _verdict(m.unk_rate <= t.max_unk_rate)),
            ("representation distance (Frechet)", *distance),
            ("CORAL distance (info)", *coral),
            ("sub-words per word, target / source", f"{m.fertility:.2f} / {source_fertility}", *fertility),
        ]  # fmt: skip
        lines = ["| measure | value | threshold | reading |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        if measured:
            judged = "similarity judged by: [UNK] rate and representation distance"
        else:
            judged = (
                "similarity judged by: [UNK] rate and sub-words per word; the representation distance was not "
                f"measured: {m.unmeasured}"
            )
        case = f"{'small' if self.small else 'large'} data, {'similar' if self.similar else 'dissimilar'}"
        return "\n".join(lines) + f"\n\n{judged}\ncase: {case} -> strategy: {self.strategy} ({self.reason})"


def _verdict(ok: bool) -> str:
    return "similar" if ok else "dissimilar"


def recommend(measures: Measures, thresholds: Thresholds | None = None) -> Advice:
    """Place the target in one of the four cases and name the strategy for it: similar
    when few tokens are unknown and the representations are close, or, when the distance
    was not measured, when the tokenizer splits words into few sub-words."""
    thresholds = thresholds or Thresholds()
    small = measures.target_size < thresholds.small_data
    close = (
        measures.fertility <= thresholds.max_fertility
        if measures.distance is None
        else measures.distance <= thresholds.max_distance
    )
    similar = measures.unk_rate <= thresholds.max_unk_rate and close
    strategy, reason = CASES[(small, similar)]
    return Advice(measures, thresholds, small, similar, strategy, reason)
