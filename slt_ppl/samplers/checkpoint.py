"""On-disk checkpoints of a chunked chain run, so a killed or pre-empted run resumes where it stopped.

A directory holds `state.nc`, the carry (kernel states, divergence flags) after the last saved
chunk and the step it reached, and the per-step statistics so far in a few segment files
`seg_<start>_<stop>.nc`. Segments merge like a binary counter (two of equal length become one), so
a run of K chunks keeps one segment per set bit of K (at most log2(K) + 1), not K: 200 000 steps in
chunks of 500 (K = 400) leave 3.
Every file is written to a temporary name and renamed, and the order of writes (segment, then state,
then merges) means a kill at any point leaves a directory that resumes: segments past the state's
step are ignored, and a merge interrupted before its inputs were deleted is resolved on load.
Keys are fold_in(chain key, step), so a resumed run draws exactly the numbers an uninterrupted one
would. A fingerprint of the run (sizes, the key data, a hash of the starting states and any settings
the caller adds) is stored in every file; a directory holding another run is refused. Files are netCDF
(xarray, scipy engine).
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
    """A checkpoint directory for one run (module doc)."""

    def __init__(self, directory, attrs: dict):
        self.directory = os.fspath(directory)
        self.attrs = {k: v for k, v in attrs.items()}
        os.makedirs(self.directory, exist_ok=True)

    # -- files -----------------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _segments(self) -> list[tuple[int, int, str]]:
        out = []
        for path in glob.glob(self._path("seg_*.nc")):
            start, stop = os.path.basename(path)[4:-3].split("_")
            out.append((int(start), int(stop), path))
        return sorted(out)

    @staticmethod
    def _write(ds: xr.Dataset, path: str) -> None:
        tmp = path + ".tmp"
        ds.to_netcdf(tmp, engine="scipy")
        os.replace(tmp, path)

    def _check_same_run(self, attrs, where: str) -> None:
        diff = sorted(k for k in self.attrs if str(attrs.get(k)) != str(self.attrs[k]))
        if diff:
            raise ValueError(
                f"checkpoint directory {self.directory!r} holds a different run ({where} differs in {diff}); "
                "resume with the same model, data, seed and settings, or use a new or empty directory"
            )

    # -- load ------------------------------------------------------------------------------------
    def load(self, carry_template, first: int = 0):
        """(next step, carry or None, [stats pieces], [flag pieces]) from the directory; a run that continues an
        earlier one starts at step `first`."""
        state_path = self._path("state.nc")
        if not os.path.exists(state_path):
            if glob.glob(self._path("chunk_*.nc")):
                raise ValueError(f"checkpoint directory {self.directory!r} was written by an older slt_ppl (one file "
                                 "per chunk); delete it to start over, or resume with the version that wrote it")
            return first, None, [], []
        with xr.open_dataset(state_path, engine="scipy") as ds:
            state = ds.load()
        self._check_same_run(state.attrs, "its state")
        stop = int(state.attrs["stop"])
        leaves_template, treedef = jax.tree.flatten(carry_template)
        leaves = [np.asarray(state[f"carry_{j}"].values).astype(t.dtype).reshape(np.shape(t))
                  for j, t in enumerate(leaves_template)]
        carry = jax.tree.unflatten(treedef, [jax.numpy.asarray(x) for x in leaves])
        pieces, flags, pos = [], [], first
        segments = [s for s in self._segments() if s[1] <= stop]
        while pos < stop:  # the longest segment starting where the last one ended (merges may overlap)
            candidates = [s for s in segments if s[0] == pos]
            if not candidates:
                raise ValueError(f"checkpoint directory {self.directory!r} has no statistics for steps from {pos} "
                                 f"(its state is at step {stop}): it is incomplete; delete it to start over")
            start, end, path = max(candidates, key=lambda s: s[1])
            with xr.open_dataset(path, engine="scipy") as ds:
                ds = ds.load()
            self._check_same_run(ds.attrs, os.path.basename(path))
            pieces.append({k[len("stat_"):]: ds[k].values for k in ds.data_vars if k.startswith("stat_")})
            flags.append(ds["flag"].values.astype(bool))
            pos = end
        return stop, carry, pieces, flags

    # -- save ------------------------------------------------------------------------------------
    def _segment_dataset(self, start: int, stop: int, stats: dict, flags) -> xr.Dataset:
        data = {}
        for name, arr in stats.items():
            arr = np.asarray(arr)
            data[f"stat_{name}"] = (("chain", "step") + tuple(f"{name}_dim{j}" for j in range(arr.ndim - 2)),
                                    _to_netcdf_dtype(arr))
        data["flag"] = (("chain", "step"), np.asarray(flags).astype(np.int8))
        return xr.Dataset(data, attrs={**self.attrs, "start": int(start), "stop": int(stop)})

    def save(self, start: int, stop: int, carry, stats: dict, flags: np.ndarray) -> None:
        """Record the chunk [start, stop): its statistics as a new segment, the carry after it as the state."""
        self._write(self._segment_dataset(start, stop, stats, flags), self._path(f"seg_{start:010d}_{stop:010d}.nc"))
        data = {}
        for j, leaf in enumerate(jax.tree.leaves(carry)):
            arr = _to_netcdf_dtype(np.asarray(leaf))
            data[f"carry_{j}"] = (tuple(f"carry_{j}_dim{k}" for k in range(arr.ndim)), arr)
        self._write(xr.Dataset(data, attrs={**self.attrs, "stop": int(stop)}), self._path("state.nc"))
        self._merge()

    def _merge(self) -> None:
        """Merge the last two segments while they have equal length (a binary counter over chunks)."""
        while True:
            segments = self._segments()
            if len(segments) < 2:
                return
            (a0, a1, pa), (b0, b1, pb) = segments[-2], segments[-1]
            if a1 != b0 or (a1 - a0) != (b1 - b0):
                return
            with xr.open_dataset(pa, engine="scipy") as da, xr.open_dataset(pb, engine="scipy") as db:
                merged = xr.concat([da.load(), db.load()], dim="step")
            merged.attrs = {**self.attrs, "start": int(a0), "stop": int(b1)}
            self._write(merged, self._path(f"seg_{a0:010d}_{b1:010d}.nc"))
            os.remove(pa)
            os.remove(pb)
