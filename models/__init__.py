"""The model zoo: NumPyro programs with data generators, true parameters and exact coefficients.

Each module offers `model(...)` (a NumPyro program whose observed sites live in the plate
"data") and `make(n=..., seed=..., ...) -> ZooCase`.
"""

from models.zoo_case import ZooCase
from models import linear_regression, rrr, dln

CASES = {
    "linear_regression": linear_regression.make,
    "rrr": rrr.make,
    "dln": dln.make,
}

__all__ = ["ZooCase", "CASES", "linear_regression", "rrr", "dln"]
