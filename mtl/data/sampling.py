"""Which task(s) train at each step of an epoch."""

from __future__ import annotations

import random
from typing import Literal

SamplingStrategy = Literal["proportional", "temperature", "uniform", "round_robin", "annealed", "all"]
STRATEGIES = ("proportional", "temperature", "uniform", "round_robin", "annealed", "all")


class TaskSampler:
    """A task schedule for one epoch.

    Strategies (``n_t`` = training examples of task ``t``):

    - ``proportional``: task ``t`` with probability ``n_t / sum(n)``;
    - ``temperature``: probability proportional to ``n_t ** (1 / temperature)``
      (``temperature=1`` is proportional, large values approach uniform);
    - ``uniform``: every task equally likely;
    - ``round_robin``: tasks in turn, in declaration order;
    - ``annealed``: probability proportional to ``n_t ** alpha`` with
      ``alpha = 1 - 0.8 * (epoch / (anneal_epochs - 1))``, from proportional towards
      uniform (Stickland and Murray, 2019);
    - ``all``: every task at every step (one batch each), as gradient balancers need.

    Args:
        strategy: one of the above.
        temperature: for ``temperature``.
        anneal_epochs: epochs over which ``annealed`` moves towards uniform.
        steps_per_epoch: steps in an epoch; by default the number of batches of all tasks
            together (one task per step) or of the largest task (``all``).
    """

    def __init__(
        self,
        strategy: SamplingStrategy = "proportional",
        temperature: float = 2.0,
        anneal_epochs: int = 10,
        steps_per_epoch: int | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"sampling strategy {strategy!r} is not one of {list(STRATEGIES)}")
        if temperature <= 0:
            raise ValueError(f"sampling temperature must be > 0, got {temperature}")
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.strategy = strategy
        self.temperature = temperature
        self.anneal_epochs = anneal_epochs
        self.steps_per_epoch = steps_per_epoch

    def probabilities(self, sizes: dict[str, int], epoch: int = 0) -> dict[str, float]:
        """Probability of each task at one step (uniform for ``round_robin`` and ``all``)."""
        if self.strategy == "proportional":
            alpha = 1.0
        elif self.strategy == "temperature":
            alpha = 1.0 / self.temperature
        elif self.strategy == "annealed":
            span = max(1, self.anneal_epochs - 1)
            alpha = 1.0 - 0.8 * min(epoch, span) / span
        else:
            alpha = 0.0
        scores = {name: float(n) ** alpha for name, n in sizes.items()}
        total = sum(scores.values())
        return {name: s / total for name, s in scores.items()}

    def num_steps(self, num_batches: dict[str, int]) -> int:
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return max(num_batches.values()) if self.strategy == "all" else sum(num_batches.values())

    def schedule(self, sizes: dict[str, int], num_batches: dict[str, int], epoch: int, rng: random.Random) -> list[list[str]]:
        """The tasks of every step of the epoch."""
        names = list(sizes)
        steps = self.num_steps(num_batches)
        if self.strategy == "all":
            return [names] * steps
        if self.strategy == "round_robin":
            return [[names[s % len(names)]] for s in range(steps)]
        probs = self.probabilities(sizes, epoch)
        picks = rng.choices(names, weights=[probs[n] for n in names], k=steps)
        return [[name] for name in picks]
