"""Do the error bars cover the exact value? The LLC estimator of commit 17d382a (se = MCSE,
before the finite-n shift and the verdict) against today's defaults (se = max(MCSE, between-chain se) with the finite-n shift to partner chains at
n beta / 4 folded in, burn-in extension, divergence repair, the step checked against the curvature at the chains'
final states, the verdict with its d / 2 bound) and today's with the opt-in hot burn-in (burnin_temperature=4: every second SGLD
chain burns in on the target raised to 1/4), side by side in one run, on 30 cases none of which is in the zoo's
validate suite.

Run: .venv/bin/python benchmarks/certified_llc.py [--quick] [--only after --only hot] [--rescore]
     (prints, writes benchmarks/results/certified_llc.{txt,json}; the "before" estimator runs from a git
     worktree of BEFORE_COMMIT made under /tmp, in its own process; the "after" one from this checkout)

Cases, each with an exact target:
- deep linear networks with Gaussian teachers (weights N(0, 1/fan-in), spread singular values, the rank cut
  to r in the first layer; noise projected off the column space of X so that w* is an exact minimiser of
  L_n): lambda from Aoyagi's formula (slt_ppl.theory.dln); depth 2-6, 200 to 100 000 parameters, full batch
  and minibatch (500 or 1000 of n = 10 000);
- reduced-rank regressions whose coefficient has multiplicity m = 2 (slt_ppl.theory.rrr);
- normal crossings with uneven powers, K = w1^2 w2^4 / 2, w1^4 w2^6 / 2, w1^2 w2^6 / 2, w1^4 w2^4 / 2 and
  w1^2 w2^2 w3^2 / 2, against the exact finite-n value by 2-D / 3-D quadrature (finite_llc_quadrature),
  computed here from each run's own n beta and localization.
Every setting is the default except the before side's crossings, at num_draws = 8000 (its default 4000 read
worse); today's crossings take the cheap-model length (16 chains x 16 000 draws, llc/default_length.py) that
all defaults give them. --rerun GROUP (crossing, rrr, dln) reruns only that group of the sides run and takes the
other rows from the recorded results (valid where the change leaves them alone: say so). Coverage = the
share of cases with |estimate - target| <= 2 se; also the median and worst relative error, Spearman
(estimate, lambda) over the DLNs, the verdicts and the time (compilation included, no persistent cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
BEFORE_COMMIT = "17d382a"


def gaussian_dln(widths, r, *, n=10_000, seed=0):
    """A DLN case whose teacher has Gaussian weights (ill-conditioned product) of rank r (models/dln.py,
    gaussian_teacher), with the rank the tempered posterior prefers at the default n beta = n / log n
    (theory.preferred_rank: below r, the product's smallest singular values are not resolved at this n beta and
    the finite-n LLC lies between lambda(rank) and lambda(r))."""
    theory = _theory()
    from slt_ppl.models import dln

    case = dln.gaussian_teacher(widths, r, n=n, seed=seed)
    product = np.eye(widths[0])
    for l in range(len(widths) - 1):
        product = np.asarray(case.params[f"W{l}"], np.float64) @ product
    s = np.linalg.svd(product, compute_uv=False)[:r]
    nbeta = n / np.log(n)
    rank = theory.preferred_rank([theory.dln(tuple(widths), k).lam for k in range(r + 1)], s, nbeta)
    return dict(snr_nbeta=nbeta * float(s[-1]) ** 2 / 2, rank_at_nbeta=rank, lam_at_rank=_dln_lambda(widths, rank), r=r,
                name=case.name, model=case.model, params=case.params, model_args=case.model_args,
                target=lambda nbeta, gamma, w=tuple(widths), r=r: _dln_lambda(w, r), d=case.d, group="dln")


def _dln_lambda(widths, r):
    return float(_theory().dln(tuple(widths), r).lam)


def _theory():
    """This checkout's slt_ppl.theory (it imports nothing else of the package), also in the "before" worker, whose
    slt_ppl is the old commit's: the cases and their targets are today's, only the estimator is the old one."""
    import importlib.util

    name = "_certified_llc_theory"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "slt_ppl", "theory.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def from_zoo(make, args, group):
    case = make(*args)
    lam = float(case.coefficient.lam)

    def target(nbeta, gamma):
        finite = case.finite_n(nbeta, gamma) if case.finite_n is not None else None
        return lam if finite is None else float(finite)

    return dict(name=case.name, model=case.model, params=case.params, model_args=case.model_args, target=target,
                d=case.d, group=group, lam=lam)


def dln_shapes():
    """21 DLN shapes: 12 random (depth 2-4, widths 3-44), 6 deeper random (depth 5-6), 3 wide (16K-100K)."""
    rng = np.random.default_rng(2026)
    shapes = []
    for i in range(12):
        depth = int(rng.integers(2, 5))
        h = int(rng.integers(8, 30))
        widths = tuple(int(rng.integers(max(3, h // 2), h + h // 2 + 1)) for _ in range(depth + 1))
        r = int(rng.integers(1, min(widths) + 1))
        shapes.append((widths, r, 500 if i % 2 else None))
    deep = np.random.default_rng(2027)
    for i in range(6):
        depth = int(deep.integers(5, 7))
        h = int(deep.integers(6, 24))
        widths = tuple(int(deep.integers(max(3, h // 2), h + h // 2 + 1)) for _ in range(depth + 1))
        r = int(deep.integers(1, min(widths) + 1))
        shapes.append((widths, r, None if i == 0 else 500))
    shapes += [((60, 80, 80, 60), 10, 500), ((100, 120, 100, 100), 15, 1000), ((150, 200, 200, 150), 20, 500)]
    return shapes


def cases(quick: bool, side: str = "after"):
    """(case, kwargs) pairs; the builders use whichever slt_ppl this process imports."""
    from slt_ppl.models import normal_crossing, rrr

    out = []
    for k in ((1, 2), (2, 3), (1, 3), (2, 2), (1, 1, 1)):
        out.append((from_zoo(normal_crossing.make, (k,), "crossing"), {"num_draws": 8000} if side == "before" else {}))
    for M, H, N, r in ((2, 2, 2, 1), (2, 3, 2, 0), (3, 2, 2, 0), (2, 2, 3, 0)):
        out.append((from_zoo(rrr.make, (M, H, N, r), "rrr m=2"), {}))
    for i, (widths, r, batch) in enumerate(dln_shapes()):
        out.append((gaussian_dln(widths, r, seed=i), {} if batch is None else {"batch_size": batch}))
    return [out[i] for i in (0, 4, 5, 9, 10)] if quick else out


def run_case(case, kw):
    import slt_ppl as slt

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = slt.estimate_llc(case["model"], case["params"], case["model_args"], progress_bar=False, **kw)
    except RuntimeError as err:  # every chain diverged: a failure of the defaults, counted as a miss
        return dict(estimate=float("nan"), se=float("nan"), mcse=float("nan"), nbeta=float("nan"),
                    localization=float("nan"), converged=False, time_s=time.perf_counter() - t0, error=str(err)[:200])
    return dict(estimate=float(res.llc), se=float(res.se), mcse=float(res.mcse), nbeta=float(res.nbeta),
                localization=float(res.localization), converged=bool(getattr(res, "converged", True)),
                time_s=time.perf_counter() - t0, diagnosis=list(getattr(res, "diagnosis", ())))


SIDES = ("before", "after", "hot")  # 17d382a; today's defaults; today's with burnin_temperature=4
HOT = {"burnin_temperature": 4.0}


def worker(quick: bool, out_path: str, side: str, rerun: list[str] | None = None) -> None:
    """Run every case with the slt_ppl this process imports; one JSON line per case, flushed as it goes.
    rerun: only these groups; the other rows are copied from the recorded results."""
    recorded = _recorded_rows(side) if rerun else {}
    with open(out_path, "w") as fh:
        for case, kw in cases(quick, side):
            if rerun and case["group"].split()[0] not in rerun:
                row = recorded[case["name"]]
            else:
                row = dict(name=case["name"], **run_case(case, {**kw, **HOT} if side == "hot" else kw))
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(f"  {row['name'][:40]:40s} {row['estimate']:10.3f} +/- {row['se']:.3f}  {row['time_s']:6.1f} s",
                  flush=True)


def before_tree() -> str:
    """A worktree of BEFORE_COMMIT with this checkout's zoo linked inside its package (as the install maps it): the
    cases are built by today's builders (models.dln.gaussian_teacher came later), the estimator is the old one."""
    path = os.path.join(tempfile.gettempdir(), f"slt_ppl_before_{BEFORE_COMMIT}")
    if not os.path.isdir(path):
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", path, BEFORE_COMMIT], check=True)
    link = os.path.join(path, "slt_ppl", "models")
    if os.path.islink(link) and os.readlink(link) != os.path.join(ROOT, "models"):
        os.unlink(link)
    if not os.path.exists(link):
        os.symlink(os.path.join(ROOT, "models"), link)
    return path


def run_side(side: str, quick: bool, rerun=None) -> list[dict]:
    env = dict(os.environ, SLT_PPL_COMPILATION_CACHE="off")
    if side == "before":
        env["PYTHONPATH"] = before_tree()
    out = os.path.join(tempfile.gettempdir(), f"certified_llc_{side}.jsonl")
    print(f"{side}:", flush=True)
    cmd = ([sys.executable, os.path.abspath(__file__), "--worker", out, "--side", side] + (["--quick"] if quick else [])
           + [a for g in rerun or () for a in ("--rerun", g)])
    subprocess.run(cmd, env=env, check=True, cwd=tempfile.gettempdir())
    return _read_side(side)


def _read_side(side: str) -> list[dict]:
    return [json.loads(line) for line in open(os.path.join(tempfile.gettempdir(), f"certified_llc_{side}.jsonl"))]


def _recorded_rows(side: str) -> dict:
    """name -> the recorded row of `side` (benchmarks/results/certified_llc.json), in the worker's format."""
    record = json.load(open(os.path.join(RESULTS, "certified_llc.json")))
    keys = ("name", "estimate", "se", "mcse", "nbeta", "localization", "converged", "time_s", "diagnosis")
    return {row["name"]: {k: v for k, v in dict(row[side], name=row["name"]).items() if k in keys}
            for row in record["rows"]}


def _restore_sides(names, force: bool = False) -> None:
    """The per-side files of `names` rebuilt from the recorded results where the last run's are gone (all: force)."""
    record = json.load(open(os.path.join(RESULTS, "certified_llc.json")))
    keys = ("name", "estimate", "se", "mcse", "nbeta", "localization", "converged", "time_s", "diagnosis")
    for side in names:
        path = os.path.join(tempfile.gettempdir(), f"certified_llc_{side}.jsonl")
        if force or not os.path.exists(path):
            with open(path, "w") as fh:
                for row in record["rows"]:
                    got = dict(row[side], name=row["name"])
                    fh.write(json.dumps({k: got[k] for k in keys if k in got}) + "\n")


def score(case, got):
    target = case["target"](got["nbeta"], got["localization"]) if np.isfinite(got["nbeta"]) else float("nan")
    covered = bool(np.isfinite(got["estimate"]) and abs(got["estimate"] - target) <= 2 * got["se"])
    rel = (got["estimate"] - target) / target if np.isfinite(got["estimate"]) else float("inf")
    z = (got["estimate"] - target) / got["se"] if got["se"] > 0 else float("inf")
    return dict(got, target=target, rel_error=rel, z=z, covered=covered)


def summarize(rows, key):
    from scipy.stats import spearmanr

    errs = [abs(r[key]["rel_error"]) for r in rows]
    dln = [r for r in rows if r["group"] == "dln"]
    rho = (float(spearmanr([r[key]["estimate"] for r in dln], [r[key]["target"] for r in dln])[0])
           if len(dln) >= 3 else float("nan"))
    crossings = [abs(r[key]["rel_error"]) for r in rows if r["group"] == "crossing"]
    return dict(coverage=float(np.mean([r[key]["covered"] for r in rows])),
                covered=int(sum(r[key]["covered"] for r in rows)), cases=len(rows),
                median_abs_rel_error=float(np.median(errs)),
                worst_abs_rel_error=float(np.max([e for e in errs if np.isfinite(e)])),
                failed=int(sum(not np.isfinite(e) for e in errs)),  # every chain diverged: no estimate
                dln_spearman=rho, crossings_within_5pct=int(sum(e <= 0.05 for e in crossings)),
                crossings=len(crossings),
                # BEFORE_COMMIT predates the verdict (res.converged): it has none to count
                converged=None if key.startswith("before") else int(sum(r[key]["converged"] for r in rows)),
                time_s=float(sum(r[key]["time_s"] for r in rows)))


def _cell(x, verdict: bool = True) -> str:
    return (f"{x['estimate']:9.3f} +/- {x['se']:<7.3f}{' ' if x['covered'] else '!'} {x['rel_error']:+7.1%} "
            f"{x['time_s']:6.1f}s" + ("" if not verdict else "  " if x["converged"] else " x"))


def row_line(r):
    return (f"{r['name'][:36]:36s} {r['d']:6d} {r['after']['target']:8.3f} | {_cell(r['before'], False)} | "
            f"{_cell(r['after'])} | {_cell(r['hot'])}"
            + (f"  [n beta prefers rank {r['rank_at_nbeta']} < r = {r['r']}: finite-n target in "
               f"[{r['lam_at_rank']:g}, {r['after']['target']:g}]]" if not resolved(r) else ""))


def resolved(row) -> bool:
    """The target is the finite-n value's limit at this n beta: every case but a DLN whose teacher's smallest singular
    values the tempered posterior does not resolve (theory.preferred_rank below r)."""
    return row.get("rank_at_nbeta") is None or row["rank_at_nbeta"] == row["r"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--reuse", action="store_true", help="score the last run's per-side files again")
    parser.add_argument("--rescore", action="store_true",
                        help="score the recorded results again (benchmarks/results), running nothing")
    parser.add_argument("--side", choices=SIDES, default="after", help=argparse.SUPPRESS)
    parser.add_argument("--rerun", choices=("crossing", "rrr", "dln"), action="append",
                        help="rerun only these case groups; the other rows are read from the recorded results")
    parser.add_argument("--only", choices=SIDES, action="append",
                        help="run only these sides; the others are read from the last run (benchmarks/results)")
    args = parser.parse_args()
    if args.worker:
        return worker(args.quick, args.worker, args.side, args.rerun)
    sys.path.insert(0, ROOT)
    if args.only:
        _restore_sides([s for s in SIDES if s not in args.only])
    if args.rescore:
        _restore_sides(SIDES, force=True)
    sides = {side: (_read_side(side) if args.reuse or args.rescore or (args.only and side not in args.only)
                    else run_side(side, args.quick, args.rerun)) for side in SIDES}
    rows = []
    for i, (case, _) in enumerate(cases(args.quick)):
        assert all(sides[side][i]["name"] == case["name"] for side in SIDES)
        rows.append(dict(name=case["name"], d=case["d"], group=case["group"],
                         **{k: case[k] for k in ("snr_nbeta", "rank_at_nbeta", "lam_at_rank", "r") if k in case},
                         **{side: score(case, sides[side][i]) for side in SIDES}))
    head = (f"{'case':36s} {'d':>6s} {'target':>8s} | {'before (' + BEFORE_COMMIT + ', se = MCSE)':>38s} | "
            f"{'after (today, se = total)':>40s} | {'hot (today + burnin_temperature=4)':>40s}")
    lines = [head] + [row_line(r) for r in rows] + [
        "(! = the target lies outside 2 se; x = not converged by the verdict; relative error to the target)"]
    kept = [r for r in rows if resolved(r)]  # targets exact at this n beta (every kept singular value resolved)
    summary = {side: summarize(rows, side) for side in SIDES}
    summary.update({f"{side}, {len(kept)} resolved": summarize(kept, side) for side in SIDES})
    unresolved = [r for r in rows if not resolved(r)]
    inside = [r for r in unresolved if r["lam_at_rank"] - 2 * r["after"]["se"] <= r["after"]["estimate"]
              <= r["after"]["target"] + 2 * r["after"]["se"]]
    summary["after, unresolved"] = {"cases": len(unresolved), "inside_bracket_2se": len(inside)}
    for label, s in summary.items():
        if "coverage" not in s:
            continue
        lines.append(f"{label}: coverage {s['covered']}/{s['cases']} ({s['coverage']:.0%}) within 2 se; median |rel err| "
                     f"{s['median_abs_rel_error']:.1%}, worst {s['worst_abs_rel_error']:.1%}"
                     + (f" ({s['failed']} without an estimate)" if s["failed"] else "") + "; Spearman over DLNs "
                     f"{s['dln_spearman']:.3f}; crossings within 5% {s['crossings_within_5pct']}/{s['crossings']}; "
                     + ("no verdict" if s["converged"] is None else f"converged {s['converged']}/{s['cases']}")
                     + f"; {s['time_s']:.0f} s")
    lines.append(f"after, {len(unresolved)} unresolved (n beta prefers a lower rank): {len(inside)} read inside "
                 "[lambda(preferred rank) - 2 se, lambda(r) + 2 se]")
    lines += [f"not converged (after): {r['name']}: {r['after']['diagnosis'][0][:200]}" for r in rows
              if not r["after"]["converged"] and r["after"].get("diagnosis")]  # older records lack it
    print("\n".join(lines))
    if args.quick:
        return
    record = dict(machine=platform.processor() or platform.machine(), cores=os.cpu_count(),
                  before_commit=BEFORE_COMMIT, rows=rows, summary=summary)
    json.dump(record, open(os.path.join(RESULTS, "certified_llc.json"), "w"), indent=1, default=float)
    open(os.path.join(RESULTS, "certified_llc.txt"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
