"""`hf_trajectory`: the LLC over a training run's Hugging Face checkpoints, one compiled program for all.

Every checkpoint is loaded with from_hf and must share one Architecture (sizes, layout and key names): then one
Likelihood, whose nll is the same function object for all of them, and slt.estimate_llc_trajectory's batched
path (llc/batched.py: every checkpoint's chains vmapped in one run) estimate them all with one compiled program.
Stage boundaries are slt.stage_boundaries of the resulting curve (llc/stages.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from slt_ppl.hf.model import from_hf
from slt_ppl.llc import LLCTrajectory, estimate_llc_trajectory, stage_boundaries

__all__ = ["hf_trajectory", "HFTrajectory", "checkpoint_step"]


def checkpoint_step(name: str, default: int) -> int:
    """The training step a revision or directory names: the last integer in 'step1000', 'checkpoint-500',
    'ckpt_00200' (its base name); `default` when it holds none."""
    found = re.findall(r"\d+", os.path.basename(os.path.normpath(str(name))))
    return int(found[-1]) if found else default


def _load_all(checkpoints, repo_id, dtype) -> list:
    models = [from_hf(repo_id, revision=c, dtype=dtype) if repo_id is not None else from_hf(c, dtype=dtype)
              for c in checkpoints]
    first = models[0].arch
    for c, m in zip(checkpoints, models):
        diff = first.differences(m.arch)
        if diff:
            shown = ", ".join(f"{k}: {a!r} vs {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"every checkpoint must share one architecture; {c!r} differs from "
                             f"{checkpoints[0]!r} in {shown}")
    return models


@dataclass
class HFTrajectory(LLCTrajectory):
    """An LLCTrajectory (table over `checkpoint` = training step, results) with `stages` (slt.stage_boundaries
    of the curve) and `names` (the revisions or directories, in order)."""

    stages: list = field(default_factory=list)
    names: list = field(default_factory=list)


def hf_trajectory(checkpoints, input_ids, *, repo_id=None, steps=None, dtype="float32", reduction="sum",
                  stage_kwargs=None, **llc_kwargs) -> HFTrajectory:
    """The LLC at every checkpoint of a Hugging Face training run, batched and compiled once.

    checkpoints: Hub revisions of `repo_id` (["step1000", "step2000", ...]) or, with repo_id None, local
    checkpoint directories; input_ids: (n, T) token ids, the data (HFCausalLM.likelihood, `reduction`); steps: the
    `checkpoint` coordinate (default: the integer in each name, checkpoint_step); llc_kwargs go to
    slt.estimate_llc_trajectory (num_chains, num_draws, step_size, batch_size, calibrate, ...); stage_kwargs to
    slt.stage_boundaries (smooth, min_change).
    """
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise ValueError("checkpoints is empty: give Hub revisions (with repo_id) or checkpoint directories")
    models = _load_all(checkpoints, repo_id, dtype)
    if steps is None:
        steps = [checkpoint_step(c, i) for i, c in enumerate(checkpoints)]
        if len(set(steps)) != len(steps):
            steps = list(range(len(checkpoints)))
    lik = models[0].likelihood(input_ids, reduction=reduction)
    traj = estimate_llc_trajectory(lik, [m.params for m in models], steps=steps, **llc_kwargs)
    stages = stage_boundaries(traj.table["checkpoint"].values, traj.llc, traj.table["se"].values,
                              **(stage_kwargs or {}))
    return HFTrajectory(traj.table, traj.results, stages=stages, names=[str(c) for c in checkpoints])
