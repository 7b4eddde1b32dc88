"""The LLC along training of the two transformers of arXiv 2402.02364, at the size this CPU allows: the
in-context linear-regression transformer (--task icl) and the 2-layer attention-only character language
model on the standard library's sources (--task lm); with stage boundaries and refined LLCs per head.

Each checkpoint's LLC is measured on its own predictions (icl_regression.likelihood / char_lm.likelihood: a
checkpoint mid-descent is not a minimum of the data's L_n, and there the estimate reads the descent); one
step size, calibrated at the last checkpoint, serves every checkpoint; the compiled loop is reused across
checkpoints (the nll function is one object per config, the data are arguments). Stage boundaries are the
significant critical points of the LLC curve (slt.stage_boundaries: slope sign changes over log training
time whose excursions exceed 2 se, the paper's method). Refined LLCs per head (arXiv 2410.02984) at a third
of the way through and at the end. Writes benchmarks/results/{icl,char_lm}_trajectory.txt.

    python benchmarks/developmental_trajectory.py --task icl [--full] [--checkpoints 16] [--steps 3000]
    python benchmarks/developmental_trajectory.py --task lm [--checkpoints 12] [--steps 2000]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("icl", "lm"), default="icl")
    parser.add_argument("--full", action="store_true", help="icl: the paper-scale transformer (about 51K parameters)")
    parser.add_argument("--checkpoints", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args(argv)
    import jax

    import slt_ppl as slt
    from slt_ppl.models import char_lm, icl_regression

    if args.task == "icl":
        zoo, config, lr = icl_regression, (icl_regression.FULL if args.full else icl_regression.QUICK), 1e-2
        steps, checkpoints, batch = args.steps or 3000, args.checkpoints or 16, args.batch or 256
        name = f"In-context linear regression, {'full' if args.full else 'quick'} size"
    else:
        zoo, config, lr = char_lm, char_lm.QUICK, 3e-3
        steps, checkpoints, batch = args.steps or 2000, args.checkpoints or 12, args.batch or 64
        name = "Character-level 2-layer attention-only LM on the stdlib sources"
    out = os.path.join(os.path.dirname(__file__), "results",
                       "icl_trajectory.txt" if args.task == "icl" else "char_lm_trajectory.txt")
    t0 = time.perf_counter()
    training = zoo.train(config, steps=steps, num_checkpoints=checkpoints, n=4096, lr=lr)
    train_s = time.perf_counter() - t0
    kw = dict(batch_size=batch, num_draws=args.draws, num_burnin=args.draws, extend_burnin=0, seed=0,
              progress_bar=False)
    last = len(training.steps) - 1
    rows = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = slt.estimate_llc(zoo.likelihood(training, last), training.params[last], step_size="auto",
                                **kw).step_size
    # every checkpoint, the last included, at that step from its own w*: the calibrating run starts its
    # chains from the calibration's end states (a longer warm-up) and is not comparable with the others
    for k in range(len(training.steps)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = slt.estimate_llc(zoo.likelihood(training, k), training.params[k], step_size=step, **kw)
        rows.append((int(training.steps[k]), float(training.loss[k]), res.llc, res.se, bool(res.converged)))
        print(rows[-1], flush=True)
    llc_s = time.perf_counter() - t0
    boundaries = slt.stage_boundaries([r[0] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    heads = [n for n in slt.component_names(training.params[last]) if "h" in n and " " not in n]
    refined = []
    t1 = time.perf_counter()
    for k in (len(training.steps) // 3, last):
        lik = zoo.likelihood(training, k)
        for head in heads:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = slt.estimate_llc(lik, training.params[k], restrict=head, step_size=step, **kw)
            refined.append((int(training.steps[k]), head, r.llc, r.se))
            print(refined[-1], flush=True)
    heads_s = time.perf_counter() - t1
    loss_name = "nll/seq" if args.task == "icl" else "nats/char"
    lines = [f"{name}: {training.num_params} parameters, {steps} Adam steps ({train_s:.0f} s); LLC at "
             f"{len(rows)} checkpoints, 4 chains x ({args.draws} + {args.draws}), batch {batch}, one step {step:.3g} "
             f"(calibration included: {llc_s:.0f} s, {llc_s / len(rows):.1f} s per checkpoint), device "
             f"{jax.devices()[0].device_kind}", "",
             f"{'step':>6} {loss_name:>10} {'llc':>9} {'se':>7} converged"]
    lines += [f"{s:>6} {loss:>10.3f} {v:>9.2f} {e:>7.2f} {c}" for s, loss, v, e, c in rows]
    lines += ["", "stage boundaries (significant critical points of the LLC curve): "
              + (", ".join(f"step {b.step:.0f} ({b.kind}, LLC {b.llc:.1f})" for b in boundaries) or "none"), "",
              f"refined LLC per head (Q/K/V/O slices of the head, the rest held at the checkpoint; {heads_s:.0f} s):"]
    for s in sorted({r[0] for r in refined}):
        part = [r for r in refined if r[0] == s]
        full = next(r[2] for r in rows if r[0] == s)
        lines += [f"  step {s:>5} {h:<6} {v:8.2f} +/- {e:.2f}" for _, h, v, e in part]
        lines.append(f"  step {s:>5} sum of heads {sum(r[2] for r in part):.2f} vs full LLC {full:.2f}")
    text = "\n".join(lines)
    print(text)
    with open(out, "w") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
