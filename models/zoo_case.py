"""One instance of a zoo model: the program, its data, the true parameter and its coefficient."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from slt_ppl.theory import Coefficient


class ZooCase(NamedTuple):
    name: str
    model: Callable
    model_args: tuple
    params: dict  # w*, constrained, site name -> array
    coefficient: Coefficient | None  # None: no known coefficient (the MLP)
    d: int  # number of parameters
    # finite_n(nbeta, gamma) -> the exact expected LLC estimate at finite n beta, where known
    finite_n: Callable | None = None

    def llc_kwargs(self) -> dict[str, Any]:
        """The arguments estimate_llc takes for this case."""
        return {"model": self.model, "params": self.params, "model_args": self.model_args}
