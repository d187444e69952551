"""Functions the agent tests turn into tools."""

from __future__ import annotations

import time
from typing import Literal


def add(a: int, b: int = 0) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def weather(city: str, unit: Literal["c", "f"] = "c") -> dict:
    """Today's weather in a city.

    :param city: the city's name
    :param unit: c or f
    """
    return {"city": city, "temp": 21 if unit == "c" else 70, "unit": unit}


def broken(text: str) -> str:
    """Always fails."""
    raise RuntimeError(f"the backend is down for {text!r}")


def sleepy(seconds: float) -> str:
    """Sleeps."""
    time.sleep(seconds)
    return "woke up"
