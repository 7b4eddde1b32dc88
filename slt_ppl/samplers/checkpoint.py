"""On-disk checkpoints of a chunked chain run, so a killed or pre-empted run resumes where it stopped.

After every chunk the runner writes one netCDF file (through xarray, scipy engine) holding that
chunk's per-step statistics and the carry (kernel states, divergence flags) after it. Files are
written to a temporary name and renamed, so a kill mid-write leaves the previous chunk intact.
Keys are fold_in(chain key, step), so a resumed run draws exactly the numbers an uninterrupted
one would. A fingerprint of the run (sizes, the key data, a hash of the starting states and any
settings the caller adds) is stored in every file; a directory holding another run is refused.
"""

from __future__ import annotations

import glob
import hashlib
import os

import jax
import numpy as np
import xarray as xr

__all__ = ["Checkpoint", "fingerprint"]


def _hash_tree(tree) -> str:
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        arr = np.asarray(jax.random.key_data(leaf) if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf)
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def fingerprint(init_carry, keys, num_steps: int, extra: dict | None = None) -> dict:
    """Attributes that identify a run: resume only into the same one."""
    out = {"num_steps": int(num_steps), "num_chains": int(keys.shape[0]), "keys": _hash_tree(keys),
           "init": _hash_tree(init_carry), "structure": str(jax.tree.structure(init_carry))[:2000]}
    for k, v in (extra or {}).items():
        out[f"extra_{k}"] = repr(v)
    return out


def _to_netcdf_dtype(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == bool:
        return arr.astype(np.int8)
    if arr.dtype == np.int64 or arr.dtype == np.uint32:
        return arr.astype(np.int32) if np.all(np.abs(arr) < 2**31) else arr.astype(np.float64)
    return arr


class Checkpoint:
    """A directory of chunk files `chunk_<start>.nc` for one run."""

    def __init__(self, directory, attrs: dict):
        self.directory = os.fspath(directory)
        self.attrs = {k: v for k, v in attrs.items()}
        os.makedirs(self.directory, exist_ok=True)

    def _files(self):
        return sorted(glob.glob(os.path.join(self.directory, "chunk_*.nc")))

    def load(self, carry_template):
        """(next step, carry or None, [stats pieces], [flag pieces]) from the chunks on disk."""
        files = self._files()
        if not files:
            return 0, None, [], []
        pieces, flags, expected, carry = [], [], 0, None
        leaves_template, treedef = jax.tree.flatten(carry_template)
        for i, path in enumerate(files):
            with xr.open_dataset(path, engine="scipy") as ds:
                ds = ds.load()
            if i == 0:
                stored = {k: v for k, v in ds.attrs.items() if k in self.attrs}
                diff = sorted(k for k in self.attrs if str(stored.get(k)) != str(self.attrs[k]))
                if diff:
                    raise ValueError(
                        f"checkpoint directory {self.directory!r} holds a different run (it differs in {diff}); "
                        "resume with the same model, data, seed and settings, or use a new or empty directory"
                    )
            start, stop = int(ds.attrs["start"]), int(ds.attrs["stop"])
            if start != expected:
                raise ValueError(f"checkpoint {path} starts at step {start} but step {expected} was expected: "
                                 "the directory is incomplete or mixed; delete it to start over")
            expected = stop
            pieces.append({k[len("stat_"):]: ds[k].values for k in ds.data_vars if k.startswith("stat_")})
            flags.append(ds["flag"].values.astype(bool))
            if i == len(files) - 1:
                leaves = [np.asarray(ds[f"carry_{j}"].values).astype(t.dtype).reshape(np.shape(t))
                          for j, t in enumerate(leaves_template)]
                carry = jax.tree.unflatten(treedef, [jax.numpy.asarray(x) for x in leaves])
        return expected, carry, pieces, flags

    def save(self, start: int, stop: int, carry, stats: dict, flags: np.ndarray) -> None:
        data = {}
        for name, arr in stats.items():
            arr = np.asarray(arr)
            data[f"stat_{name}"] = (("chain", "step") + tuple(f"{name}_dim{j}" for j in range(arr.ndim - 2)),
                                    _to_netcdf_dtype(arr))
        data["flag"] = (("chain", "step"), np.asarray(flags).astype(np.int8))
        for j, leaf in enumerate(jax.tree.leaves(carry)):
            arr = _to_netcdf_dtype(np.asarray(leaf))
            data[f"carry_{j}"] = (tuple(f"carry_{j}_dim{k}" for k in range(arr.ndim)), arr)
        ds = xr.Dataset(data, attrs={**self.attrs, "start": int(start), "stop": int(stop)})
        path = os.path.join(self.directory, f"chunk_{start:010d}.nc")
        tmp = path + ".tmp"
        ds.to_netcdf(tmp, engine="scipy")
        os.replace(tmp, path)
