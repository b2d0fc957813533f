"""The served model followed on a thread: each new one handed on, a failure survived."""

from __future__ import annotations

import threading
from typing import Any

from embercast.service.live_model import ModelHolder


class Moving(ModelHolder):
    """A holder whose alias moves at the first and third look, and whose registry is away at
    the second; it stops its follower at the fifth."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__("fire@champion")
        self.stop, self.looks = stop, 0

    def refresh(self) -> bool:
        self.looks += 1
        if self.looks == 2:
            raise RuntimeError("the registry is away")
        if self.looks >= 5:
            self.stop.set()
        if self.looks in (1, 3):
            self.current = f"model {self.looks}"  # type: ignore[assignment]
            return True
        return False


def test_following_hands_on_each_new_model_and_survives_a_failure() -> None:
    stop = threading.Event()
    holder = Moving(stop)
    seen: list[Any] = []
    holder.follow(stop, 0.001, seen.append)
    assert seen == ["model 1", "model 3"] and holder.looks == 5
    assert str(holder.current) == "model 3"  # the failure kept the model being served
