"""slt-ppl: estimate the LLC of a built-in model beside its exact value (llc), validate the model zoo
against slt_ppl.theory (validate), or measure sampler throughput (bench). Add --json for
machine-readable output."""

from __future__ import annotations

import argparse
import json
import sys
import time


def _llc(args) -> int:
    from slt_ppl import models
    import slt_ppl as slt

    if args.model == "linear_regression":
        case = models.linear_regression.make(n=args.n, d=args.d, seed=args.seed)
    elif args.model == "rrr":
        case = models.rrr.make(M=args.M, H=args.H, N=args.N, r=args.r, n=args.n, seed=args.seed)
    else:
        case = models.dln.make(widths=tuple(args.widths), r=args.r, n=args.n, seed=args.seed)
    step = args.step_size
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
        sampler=args.sampler,
        checkpoint=args.checkpoint,
        restrict=args.restrict,
        burnin_temperature=args.burnin_temperature,
    )
    elapsed = time.perf_counter() - t0
    lam = case.coefficient
    rel = (res.llc - float(lam.lam)) / float(lam.lam)
    if args.json:
        print(json.dumps({
            "model": case.name, "d": case.d, "n": res.n, "llc": res.llc, "se": res.se, "se_lambda": res.se_lambda,
            "mcse": res.mcse,
            "se_between_chains": res.se_between_chains, "llc_std": res.llc_std,
            "llc_per_chain": res.llc_per_chain.tolist(), "ess": res.ess, "lambda": None if args.restrict else str(lam.lam), "m": None if args.restrict else lam.m,
            "relative_error": rel if args.restrict is None else None, "sampler": res.sampler,
            "step_size": res.step_size, "nbeta": res.nbeta, "localization": res.localization,
            "num_diverged": res.num_diverged, "seconds": elapsed, "partial": res.partial,
            "converged": res.converged, "diagnosis": list(res.diagnosis), "rhat": res.rhat,
            "llc_variance": res.llc_variance, "temperature_shift": res.temperature_shift,
            "temperature_shift_se": res.temperature_shift_se, "llc_at_temperature": res.llc_at_temperature,
        }))
        return 0
    print(f"model        {case.name}  (d = {case.d}, n = {res.n})")
    print(f"LLC estimate {res.llc:.4f} +/- {res.se:.4f} (se; MCSE {res.mcse:.4f}), std over {len(res.llc_per_chain)} "
          f"chains {res.llc_std:.4f}")
    if args.restrict:
        print(f"theory       (restricted to {args.restrict}: the full model's lambda = {lam.lam} does not apply)")
    else:
        print(f"theory       lambda = {lam.lam} = {float(lam.lam):.4f}, m = {lam.m}   (relative error {rel:+.1%})")
    print(f"settings     sampler {res.sampler}, step_size {res.step_size:.4g} ({'auto' if step == 'auto' else 'given'}), "
          f"nbeta {res.nbeta:.1f}, localization {res.localization:g}, {elapsed:.1f} s")
    if res.num_diverged:
        print(f"warning      {res.num_diverged} chain(s) diverged and were left out")
    print(f"verdict      {'converged' if res.converged else 'NOT CONVERGED'} (R-hat {res.rhat:.3f}"
          + (f", variance form {res.llc_variance:.4f}" if res.llc_variance is not None else "") + ")"
          + "".join(f"\n             - {reason}" for reason in res.diagnosis))
    return 0


def _validate(args) -> int:
    from slt_ppl import validate

    cases = validate.quick_cases() if args.quick else validate.full_cases()
    say = (lambda *a, **k: None) if args.json else print
    which = (f"sampler {args.sampler}" if args.sampler else
             "estimate_llc's default sampler (sgld; hmc for a model that costs little, run full batch)")
    say(f"validating {len(cases)} zoo cases with {which} (seed {args.seed})", flush=True)
    result = validate.run_validation(
        cases, sampler=args.sampler, seed=args.seed, progress=lambda row: say(validate.format_row(row), flush=True),
        step_bias=args.step_bias,
    )
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print()
        print(validate.format_table(result))
    for path in args.out or []:
        validate.write_results(result, path)
        say(f"wrote {path}")
    return 0 if not result["summary"]["failed"] else 1


def _bench(args) -> int:
    """Throughput of one sampler on a deep linear network: first call (with compilation) and a second call."""
    from slt_ppl import models
    import slt_ppl as slt

    case = models.dln.make(widths=tuple(args.widths), r=args.r, n=args.n, seed=args.seed)
    kw = dict(sampler=args.sampler, num_chains=args.num_chains, num_draws=args.num_draws, num_burnin=0,
              step_size=args.step_size, batch_size=args.batch_size, seed=args.seed, progress_bar=args.progress)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        res = slt.estimate_llc(**case.llc_kwargs(), **kw)
        times.append(time.perf_counter() - t0)
    steps = args.num_chains * args.num_draws
    out = {"model": case.name, "d": case.d, "n": res.n, "sampler": args.sampler, "num_chains": args.num_chains,
           "num_steps": args.num_draws, "batch_size": args.batch_size, "first_call_s": times[0],
           "second_call_s": times[1], "chain_steps_per_s": steps / times[1], "llc": res.llc, "mcse": res.mcse,
           "lambda": float(case.coefficient.lam)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{case.name} (d = {case.d}, n = {res.n}), {args.sampler}, {args.num_chains} chains x {args.num_draws} steps, "
              f"batch {args.batch_size}")
        print(f"first call {times[0]:.2f} s (with compilation), second call {times[1]:.2f} s, "
              f"{out['chain_steps_per_s']:.0f} chain-steps/s; llc {res.llc:.3f} +/- {res.mcse:.3f} (lambda {out['lambda']:.3f})")
    return 0


def _integer(minimum: int, what: str):
    """An argparse type: an integer >= minimum; the error names the option (argparse adds its name)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {what} integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a {what} integer, got {value}")
        return value

    return parse


_positive_int = _integer(1, "positive")
_non_negative_int = _integer(0, "non-negative")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _step_size(text: str):
    if text == "auto":
        return "auto"
    try:
        return _positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a finite number > 0 (e.g. 1e-4), got {text!r}") from None


def _version() -> str:
    import slt_ppl

    return f"slt-ppl {slt_ppl.__version__}"


def build_parser() -> argparse.ArgumentParser:
    """The slt-ppl command line: llc, validate, bench (every option has help text)."""
    from slt_ppl.samplers.registry import SAMPLERS

    parser = argparse.ArgumentParser(prog="slt-ppl", description=__doc__)
    parser.add_argument("--version", action="version", version=_version(), help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("llc", help="estimate the LLC of a built-in model and compare with theory")
    p.add_argument("--model", choices=["linear_regression", "rrr", "dln"], default="rrr",
                   help="built-in model: linear_regression (lambda d/2), rrr (reduced-rank regression, Aoyagi-Watanabe), "
                        "dln (deep linear network, Aoyagi); default rrr")
    p.add_argument("--n", type=_positive_int, default=10_000, help="data size")
    p.add_argument("--d", type=_positive_int, default=5, help="linear_regression: number of inputs")
    p.add_argument("--M", type=_positive_int, default=4, help="rrr: input dim")
    p.add_argument("--H", type=_positive_int, default=3, help="rrr: hidden dim")
    p.add_argument("--N", type=_positive_int, default=5, help="rrr: output dim")
    p.add_argument("--r", type=_non_negative_int, default=1, help="rrr/dln: rank of the true map")
    p.add_argument("--widths", type=_positive_int, nargs="+", default=[3, 4, 3, 3], help="dln: layer widths")
    p.add_argument("--sampler", default=None, choices=SAMPLERS,
                   help="the kernel (default: estimate_llc's, sgld; hmc for a model that costs little, run full batch)")
    p.add_argument("--num-chains", type=_positive_int, default=None, help="independent chains, vectorised (default 4; 16 for a model that costs little)")
    p.add_argument("--num-draws", type=_positive_int, default=None, help="draws per chain (default 4000 SG, 1000 MCMC)")
    p.add_argument("--step-size", type=_step_size, default="auto",
                   help="a float (eps for sgld) or 'auto' (calibrated from curvature)")
    p.add_argument("--localization", type=float, default=None, help="gamma of the Gaussian localization (default 1)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="minibatch size (default: full batch)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (same seed, same numbers)")
    p.add_argument("--checkpoint", default=None, help="directory to save chunks to and resume from")
    p.add_argument("--restrict", nargs="+", default=None, help="weight-restricted LLC: sample only these sites (e.g. A)")
    p.add_argument("--burnin-temperature", type=_positive_float, default=1.0,
                   help="sgld: every second chain burns in at this temperature, a test of the burn-in (default 1: off)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on in a terminal)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    v = sub.add_parser("validate", help="run the model zoo against exact learning coefficients")
    v.add_argument("--quick", action="store_true", help="a small set that finishes in under 3 minutes on 2 cores")
    v.add_argument("--sampler", default=None, choices=SAMPLERS,
                   help="sampler for every case (default: estimate_llc's, sgld; hmc for a model that costs little)")
    v.add_argument("--seed", type=_non_negative_int, default=0, help="random seed")
    v.add_argument("--step-bias", choices=["richardson"], default=None,
                   help="measure the step-size bias in every case (chains at eps and eps/2) and fold it into se")
    v.add_argument("--out", action="append", help="write the table to FILE (.json or .csv); may repeat")
    v.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    b = sub.add_parser("bench", help="sampler throughput on a deep linear network (first and second call)")
    b.add_argument("--widths", type=_positive_int, nargs="+", default=[20, 30, 30, 20], help="DLN layer widths")
    b.add_argument("--r", type=_non_negative_int, default=5, help="rank of the true map")
    b.add_argument("--n", type=_positive_int, default=10_000, help="data size")
    b.add_argument("--sampler", default="sgld", choices=SAMPLERS, help="sampler to time (default sgld)")
    b.add_argument("--num-chains", type=_positive_int, default=4, help="chains")
    b.add_argument("--num-draws", type=_positive_int, default=2000, help="steps per chain (no burn-in)")
    b.add_argument("--step-size", type=_positive_float, default=1e-5, help="fixed step (no calibration in the timing)")
    b.add_argument("--batch-size", type=_positive_int, default=500, help="minibatch size")
    b.add_argument("--seed", type=_non_negative_int, default=0, help="random seed")
    b.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("llc", "validate", "bench"):
        try:
            return {"llc": _llc, "validate": _validate, "bench": _bench}[args.command](args)
        except (ValueError, RuntimeError) as err:
            print(f"slt-ppl: error: {err}", file=sys.stderr)
            return 2
    return 1  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
