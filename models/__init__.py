"""The model zoo (installed as `slt_ppl.models`): NumPyro programs with data generators, true parameters
and exact coefficients. It uses only slt_ppl's public names; the CLI and `validate` sit above it.

Each module offers `model(...)` (a NumPyro program whose observed sites live in the plate
"data") and `make(n=..., seed=..., ...) -> ZooCase`.
"""

from .zoo_case import ZooCase
from . import dln, gaussian_mixture, linear_regression, mlp, normal_crossing, rrr, tanh_net

CASES = {
    "linear_regression": linear_regression.make,
    "normal_crossing": normal_crossing.make,
    "rrr": rrr.make,
    "dln": dln.make,
    "tanh": tanh_net.make,
    "gaussian_mixture": gaussian_mixture.make,
    "mlp": mlp.make,
}

__all__ = ["ZooCase", "CASES", "dln", "gaussian_mixture", "linear_regression", "mlp", "normal_crossing", "rrr", "tanh_net"]
