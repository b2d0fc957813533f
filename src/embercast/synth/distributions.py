"""Parameter distributions of the scenario catalogue, as data that can describe itself.

Every sampled parameter of a scenario comes from one of these, with the scenario's seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Value = float | int | str | bool


@dataclass(frozen=True)
class Uniform:
    """Uniform on [lo, hi] (in the parameter's unit)."""

    lo: float
    hi: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.lo, self.hi))

    def describe(self) -> str:
        return f"uniform({self.lo:g}, {self.hi:g})"


@dataclass(frozen=True)
class LogUniform:
    """Log-uniform on [lo, hi]: every decade equally likely."""

    lo: float
    hi: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))

    def describe(self) -> str:
        return f"log-uniform({self.lo:g}, {self.hi:g})"


@dataclass(frozen=True)
class IntUniform:
    """Integer uniform on lo..hi inclusive."""

    lo: int
    hi: int

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.lo, self.hi + 1))

    def describe(self) -> str:
        return f"integer({self.lo}..{self.hi})"


@dataclass(frozen=True)
class Choice:
    """One of ``options`` with optional ``weights`` (normalised)."""

    options: tuple[str, ...]
    weights: tuple[float, ...] | None = None

    def sample(self, rng: np.random.Generator) -> str:
        p = None if self.weights is None else np.asarray(self.weights) / sum(self.weights)
        return str(self.options[int(rng.choice(len(self.options), p=p))])

    def describe(self) -> str:
        if self.weights is None:
            return f"one of {list(self.options)}"
        pairs = ", ".join(f"{o}: {w:g}" for o, w in zip(self.options, self.weights, strict=True))
        return f"one of {{{pairs}}}"


@dataclass(frozen=True)
class Bernoulli:
    """True with probability ``p``."""

    p: float

    def sample(self, rng: np.random.Generator) -> bool:
        return bool(rng.random() < self.p)

    def describe(self) -> str:
        return f"true with p={self.p:g}"


@dataclass(frozen=True)
class Fixed:
    """Always ``value`` (a replica's known geometry or conditions); draws nothing."""

    value: float | int | bool

    def sample(self, rng: np.random.Generator) -> float | int | bool:
        return self.value

    def describe(self) -> str:
        return f"always {self.value}"


Distribution = Uniform | LogUniform | IntUniform | Choice | Bernoulli | Fixed
