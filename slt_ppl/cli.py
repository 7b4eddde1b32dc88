"""Command line: `slt-ppl llc` estimates the LLC of a built-in zoo model and prints it beside theory."""

from __future__ import annotations

import argparse
import sys
import time


def _llc(args) -> int:
    import models
    import slt_ppl as slt

    if args.model == "linear_regression":
        case = models.linear_regression.make(n=args.n, d=args.d, seed=args.seed)
    elif args.model == "rrr":
        case = models.rrr.make(M=args.M, H=args.H, N=args.N, r=args.r, n=args.n, seed=args.seed)
    else:
        case = models.dln.make(widths=tuple(args.widths), r=args.r, n=args.n, seed=args.seed)
    step = "auto" if args.step_size == "auto" else float(args.step_size)
    t0 = time.perf_counter()
    res = slt.estimate_llc(
        **case.llc_kwargs(),
        num_chains=args.num_chains,
        num_draws=args.num_draws,
        step_size=step,
        localization=args.localization,
        batch_size=args.batch_size,
        seed=args.seed,
        progress_bar=args.progress,
    )
    elapsed = time.perf_counter() - t0
    lam = case.coefficient
    rel = (res.llc - float(lam.lam)) / float(lam.lam)
    print(f"model        {case.name}  (d = {case.d}, n = {res.n})")
    print(f"LLC estimate {res.llc:.4f} +/- {res.mcse:.4f} (MCSE), std over {len(res.llc_per_chain)} chains {res.llc_std:.4f}")
    print(f"theory       lambda = {lam.lam} = {float(lam.lam):.4f}, m = {lam.m}   (relative error {rel:+.1%})")
    print(f"settings     sampler {res.sampler}, step_size {res.step_size:.4g} ({'auto' if step == 'auto' else 'given'}), "
          f"nbeta {res.nbeta:.1f}, localization {res.localization:g}, {elapsed:.1f} s")
    if res.num_diverged:
        print(f"warning      {res.num_diverged} chain(s) diverged and were left out")
    return 0


def _validate(args) -> int:
    from slt_ppl import validate

    cases = validate.quick_cases() if args.quick else validate.full_cases()
    print(f"validating {len(cases)} zoo cases with sampler {args.sampler} (seed {args.seed})", flush=True)
    result = validate.run_validation(
        cases, sampler=args.sampler, seed=args.seed, progress=lambda row: print(validate.format_row(row), flush=True)
    )
    print()
    print(validate.format_table(result))
    for path in args.out or []:
        validate.write_results(result, path)
        print(f"wrote {path}")
    return 0 if not result["summary"]["failed"] else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="slt-ppl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("llc", help="estimate the LLC of a built-in model and compare with theory")
    p.add_argument("--model", choices=["linear_regression", "rrr", "dln"], default="rrr")
    p.add_argument("--n", type=int, default=10_000, help="data size")
    p.add_argument("--d", type=int, default=5, help="linear_regression: number of inputs")
    p.add_argument("--M", type=int, default=4, help="rrr: input dim")
    p.add_argument("--H", type=int, default=3, help="rrr: hidden dim")
    p.add_argument("--N", type=int, default=5, help="rrr: output dim")
    p.add_argument("--r", type=int, default=1, help="rrr/dln: rank of the true map")
    p.add_argument("--widths", type=int, nargs="+", default=[3, 4, 3, 3], help="dln: layer widths")
    p.add_argument("--num-chains", type=int, default=4)
    p.add_argument("--num-draws", type=int, default=None)
    p.add_argument("--step-size", default="auto")
    p.add_argument("--localization", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    v = sub.add_parser("validate", help="run the model zoo against exact learning coefficients")
    v.add_argument("--quick", action="store_true", help="a small set that finishes in under 3 minutes on 2 cores")
    v.add_argument("--sampler", default="sgld")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--out", action="append", help="write the table to FILE (.json or .csv); may repeat")
    args = parser.parse_args(argv)
    if args.command in ("llc", "validate"):
        try:
            return _llc(args) if args.command == "llc" else _validate(args)
        except (ValueError, RuntimeError) as err:
            print(f"slt-ppl: error: {err}", file=sys.stderr)
            return 2
    return 1  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
