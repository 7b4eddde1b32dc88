"""The LLC along the training of the in-context linear-regression transformer (arXiv 2402.02364), and the
refined LLC of each attention head (arXiv 2410.02984), at the quick size this CPU allows.

Each checkpoint's LLC is measured on its own predictions plus N(0, sigma^2) noise (icl_regression.likelihood:
a checkpoint mid-descent is not a minimum of the task data's L_n, and there the estimate reads the descent);
one step size, calibrated at the last checkpoint, serves every checkpoint; the compiled loop is reused across
checkpoints because data are arguments. Stage boundaries are the critical points of the LLC curve (sign
changes of its slope over log training steps, the paper's method). Writes benchmarks/results/icl_trajectory.txt.

    python benchmarks/icl_trajectory.py [--full] [--checkpoints 16] [--steps 3000]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the paper-scale transformer (about 51K parameters)")
    parser.add_argument("--checkpoints", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "icl_trajectory.txt"))
    args = parser.parse_args(argv)
    import jax

    import slt_ppl as slt
    from slt_ppl.models import icl_regression as icl

    config = icl.FULL if args.full else icl.QUICK
    t0 = time.perf_counter()
    training = icl.train(config, steps=args.steps, num_checkpoints=args.checkpoints, n=4096, lr=1e-2)
    train_s = time.perf_counter() - t0
    kw = dict(batch_size=256, num_draws=args.draws, num_burnin=args.draws, extend_burnin=0, seed=0)
    last = len(training.steps) - 1
    rows, step = [], None
    t0 = time.perf_counter()
    for k in range(len(training.steps)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = slt.estimate_llc(icl.likelihood(training, k), training.params[k],
                                   step_size="auto" if step is None else step, **kw)
        step = res.step_size if step is None else step
        rows.append((int(training.steps[k]), float(training.loss[k]), float(training.mse[k]), res.llc, res.se,
                     bool(res.converged)))
        print(rows[-1], flush=True)
    llc_s = time.perf_counter() - t0
    llc = np.array([r[3] for r in rows])
    slope = np.sign(np.diff(llc))
    critical = [rows[i + 1][0] for i in range(len(slope) - 1) if slope[i] != slope[i + 1] and slope[i] != 0]
    heads = [n for n in slt.component_names(training.params[last]) if "h" in n and " " not in n]
    refined = []
    for k in (len(training.steps) // 3, last):
        lik = icl.likelihood(training, k)
        for name in heads:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = slt.estimate_llc(lik, training.params[k], restrict=name, step_size=step, **kw)
            refined.append((int(training.steps[k]), name, r.llc, r.se))
            print(refined[-1], flush=True)
    lines = [f"In-context linear regression, {'full' if args.full else 'quick'} size: {training.num_params} "
             f"parameters, D = {config.task_dim}, K = {config.num_pairs}, {args.steps} Adam steps "
             f"({train_s:.0f} s); LLC at {len(rows)} checkpoints, 4 chains x ({args.draws} + {args.draws}), batch 256, "
             f"one step {step:.3g} ({llc_s:.0f} s, {llc_s / len(rows):.1f} s per checkpoint), device "
             f"{jax.devices()[0].device_kind}", "",
             f"{'step':>6} {'nll':>9} {'mse':>7} {'llc':>9} {'se':>7} converged"]
    lines += [f"{s:>6} {l:>9.3f} {m:>7.3f} {v:>9.2f} {e:>7.2f} {c}" for s, l, m, v, e, c in rows]
    lines += ["", f"critical points of the LLC curve (stage boundaries): steps {critical}", "",
              "refined LLC per head (Q/K/V/O slices of the head; the rest at w*):"]
    lines += [f"  step {s:>5} {n:<6} {v:8.2f} +/- {e:.2f}" for s, n, v, e in refined]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "w") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
