"""slt_ppl against devinterp 1.3.2 on the same problems with identical SGLD settings, side by side.

Setup (once): python3.12 -m venv .venv-devinterp && .venv-devinterp/bin/pip install torch==2.13.0 devinterp==1.3.2
Run: .venv/bin/python benchmarks/devinterp_compare.py   (prints, writes benchmarks/results/devinterp_compare.{txt,json})
     [--quick | --only 2,3 | --no-accuracy]: a subset, printed only

Per problem: the same data, w* (teacher), eps (slt_ppl's auto step, measured once), nbeta = n/log n,
localization 1, batch 500, 4 chains, the same number of steps, no burn-in. Each tool runs in its own
fresh process: it imports (timed), then makes a first call (with JAX compilation, or torch warm-up)
and REPEATS more, whose steps per second are the steady state. The two tools' processes alternate,
ROUNDS times, and each figure is the best over all of a tool's calls (as timeit does): this shared
2-core machine's speed drifts by up to 2x within minutes, and the best of interleaved repeats is the
figure least moved by that drift; the ratio of each round is kept beside it to show the spread.
slt_ppl runs with its defaults, which record the MALA-acceptance diagnostic every 10 steps (one
extra gradient each time) where devinterp records none; a second slt_ppl figure with
diagnostic_every=None is the like-for-like one. Peak memory is the process's high-water resident
set (VmHWM, which an exec resets; ru_maxrss would inherit the parent's), the largest over rounds.

Accuracy at equal compute: then each tool runs with burn-in (half the steps, same eps, no larger
burn-in step) on the same wall-clock budget: devinterp `acc_steps` steps, slt_ppl as many steps as
its measured steady-state speed ratio buys in that time. Both estimates are set beside the exact
coefficient (Aoyagi); where the run is too short to equilibrate both read low, and the one with
more draws reads closer. devinterp's own baseline L(w*) is the mean loss on num_chains random batches
of 500 (unseeded), whose noise is nbeta * sd(loss) / sqrt(2000) (about +/-50 in the LLC here), so its
estimate is also given against the exact full-batch L_n(w*), from the same draws: that one measures its
sampler alone. slt_ppl pairs each draw with L_B(w*) on the draw's own batch, with no baseline noise.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

DEVINTERP_PY = os.path.join(ROOT, ".venv-devinterp", "bin", "python")

PEAK_RSS = r"""
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

TORCH_CHILD = PEAK_RSS + r"""
import json, sys, time
t_import = time.perf_counter()
import numpy as np, torch
from torch.utils.data import DataLoader, TensorDataset
from devinterp.optim.sgld import SGLD
from devinterp.slt.sampler import estimate_learning_coeff_with_summary
import_s = time.perf_counter() - t_import
torch.set_num_threads({threads})
d = np.load({path!r})
X, y = torch.tensor(d["X"]), torch.tensor(d["y"])
widths = [int(w) for w in d["widths"]]
layers = [torch.nn.Linear(widths[i], widths[i + 1], bias=False) for i in range(len(widths) - 1)]
model = torch.nn.Sequential(*layers)
with torch.no_grad():
    for i, layer in enumerate(layers):
        layer.weight.copy_(torch.tensor(d[f"W{{i}}"]))
def evaluate(model, batch):
    xb, yb = batch
    return 0.5 * ((yb - model(xb)) ** 2).sum(dim=1).mean(), {{}}
loader = DataLoader(TensorDataset(X, y), batch_size={batch}, shuffle=True)
def run(draws, burnin):
    t0 = time.perf_counter()
    out = estimate_learning_coeff_with_summary(
        model, loader, evaluate=evaluate, sampling_method=SGLD,
        optimizer_kwargs=dict(lr={eps}, localization=1.0, nbeta={nbeta}),
        num_chains={chains}, num_draws=draws, num_burnin_steps=burnin, num_steps_bw_draws=1,
        seed=0, device="cpu", verbose=False, online=False)
    return time.perf_counter() - t0, out
result = {{"import_s": import_s}}
if {steps}:
    first_s, out = run({steps}, 0)
    steady = [run({steps}, 0)[0] for _ in range({repeats})]
    result.update(first_s=first_s, steady_s=steady, best_s=min(steady), llc=float(out["llc/mean"]),
                  peak_rss_mb=peak_rss_mb())
if {acc_steps}:
    acc_s, out = run({acc_steps} - {acc_steps} // 2, {acc_steps} // 2)
    result.update(acc_s=acc_s, acc_steps={acc_steps}, acc_llc=float(out["llc/mean"]), acc_llc_std=float(out["llc/std"]))
    # devinterp's baseline L(w*) is the mean loss of num_chains random batches (its default): the same
    # draws against the exact full-batch L_n(w*) separate the sampler's error from that baseline's
    with torch.no_grad():
        loss_star = float(evaluate(model, (X, y))[0])
    per_chain = {nbeta} * (np.asarray(out["loss/trace"], dtype=np.float64).mean(axis=1) - loss_star)
    result.update(acc_llc_exact_baseline=float(per_chain.mean()), acc_llc_exact_baseline_std=float(per_chain.std(ddof=1)))
print(json.dumps(result))
"""

JAX_CHILD = PEAK_RSS + r"""
import json, sys, time
sys.path.insert(0, {root!r})
t_import = time.perf_counter()
import numpy as np, jax.numpy as jnp
import slt_ppl as slt
slt.estimate_llc  # the package namespace is lazy: load the estimator's modules here, as part of the import
import_s = time.perf_counter() - t_import
from slt_ppl.models import dln
d = np.load({path!r})
widths = tuple(int(w) for w in d["widths"])
params = {{f"W{{i}}": jnp.asarray(d[f"W{{i}}"]) for i in range(len(widths) - 1)}}
args = (jnp.asarray(d["X"]), jnp.asarray(d["y"]), widths, 1.0)
def run(draws, burnin, **extra):
    t0 = time.perf_counter()
    res = slt.estimate_llc(dln.model, params, args, num_chains={chains}, num_draws=draws, num_burnin=burnin,
                           step_size={eps}, nbeta={nbeta}, localization=1.0, batch_size={batch}, seed=0,
                           burnin_step_factor=1.0, temperature_check=None, progress_bar=False, **extra)
    return time.perf_counter() - t0, res
result = {{"import_s": import_s}}
if {steps}:
    first_s, res = run({steps}, 0)
    run({steps}, 0, diagnostic_every=None)  # compiles the loop without the diagnostic
    steady, nodiag = [], []
    for _ in range({repeats}):  # alternate, so a drift of the machine's speed hits both alike
        steady.append(run({steps}, 0)[0])
        nodiag.append(run({steps}, 0, diagnostic_every=None)[0])
    result.update(first_s=first_s, steady_s=steady, best_s=min(steady), llc=res.llc, nodiag_s=nodiag,
                  best_nodiag_s=min(nodiag), peak_rss_mb=peak_rss_mb())
if {acc_steps_ours}:
    acc_s, res = run({acc_steps_ours} - {acc_steps_ours} // 2, {acc_steps_ours} // 2)
    result.update(acc_s=acc_s, acc_steps={acc_steps_ours}, acc_llc=res.llc, acc_llc_std=res.llc_std, acc_mcse=res.mcse)
print(json.dumps(result))
"""


def problem(widths, r, n=10_000, seed=0):
    from slt_ppl.models import dln

    case = dln.make(widths, r, n=n, seed=seed)
    X, y = np.asarray(case.model_args[0]), np.asarray(case.model_args[1])
    return case, {"X": X, "y": y, "widths": np.asarray(widths), **{k: np.asarray(v) for k, v in case.params.items()}}


ROUNDS = 2  # alternating (slt_ppl, devinterp) process pairs per problem
REPEATS = 3  # steady-state calls per process after the first


def best_of(results) -> dict:
    """One tool's rounds merged: the fastest of every timing (first call, steady calls), the largest
    peak memory, every steady-state time kept."""
    results = list(results)
    out = dict(results[0])
    for key in ("import_s", "first_s", "best_s", "best_nodiag_s"):
        if key in out:
            out[key] = min(r[key] for r in results)
    for key in ("steady_s", "nodiag_s"):
        if key in out:
            out[key] = [t for r in results for t in r[key]]
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    return out


def child(python, template, **kw) -> dict:
    out = subprocess.run([python, "-c", template.format(**kw)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import slt_ppl as slt

    if not os.path.exists(DEVINTERP_PY):
        sys.exit(f"no devinterp venv at {DEVINTERP_PY}; see this script's docstring")
    threads = os.cpu_count()
    quick = "--quick" in sys.argv
    # (name, widths, true rank, timed steps, accuracy steps for devinterp (0: skip))
    problems = [("RRR [8,6,8] r=2 (a one-hidden-layer DLN)", (8, 6, 8), 2, 2000, 8000),
                ("DLN [20,30,30,20] r=5", (20, 30, 30, 20), 5, 2000, 8000),
                ("DLN [90,100,100,90] r=20", (90, 100, 100, 90), 20, 2000, 20000),
                ("DLN [500,700,700,500] r=100", (500, 700, 700, 500), 100, 40, 0)]
    if quick:
        problems = problems[:1]
    if "--only" in sys.argv:  # e.g. --only 2,3: those problems (0-based), for a re-measurement; writes nothing
        problems = [problems[int(i)] for i in sys.argv[sys.argv.index("--only") + 1].split(",")]
    if "--no-accuracy" in sys.argv:
        problems = [p[:4] + (0,) for p in problems]
    rows = []
    for name, widths, r, steps, acc_steps in problems:
        case, arrays = problem(widths, r)
        n = arrays["X"].shape[0]
        nbeta = n / math.log(n)
        eps = slt.estimate_llc(**case.llc_kwargs(), num_draws=200, batch_size=500, progress_bar=False).step_size
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "problem.npz")
            np.savez(path, **arrays)
            kw = dict(path=path, eps=eps, nbeta=nbeta, batch=500, chains=4, root=ROOT, threads=threads, repeats=REPEATS)
            rounds = []
            for _ in range(ROUNDS):  # the two tools alternate, so a drift of the machine's speed hits both
                ours = child(sys.executable, JAX_CHILD, steps=steps, acc_steps_ours=0, **kw)
                theirs = child(DEVINTERP_PY, TORCH_CHILD, steps=steps, acc_steps=0, **kw)
                rounds.append((ours, theirs))
            ours, theirs = best_of(r[0] for r in rounds), best_of(r[1] for r in rounds)
            if acc_steps:  # slt_ppl gets devinterp's wall-clock time for the accuracy run
                theirs.update({k: v for k, v in child(DEVINTERP_PY, TORCH_CHILD, steps=0, acc_steps=acc_steps,
                                                      **kw).items() if k != "import_s"})
                per_step = ours["best_s"] / steps
                acc_ours = max(2 * int(0.45 * theirs["acc_s"] / per_step), acc_steps)
                ours.update({k: v for k, v in child(sys.executable, JAX_CHILD, steps=0, acc_steps_ours=acc_ours,
                                                    **kw).items() if k != "import_s"})
        lam = float(case.coefficient.lam)
        chain_steps = 4 * steps
        row = dict(problem=name, d=case.d, n=n, eps=eps, nbeta=nbeta, steps=steps, chains=4, batch=500, lam=lam,
                   rounds=ROUNDS, repeats=REPEATS, slt_ppl=ours, devinterp=theirs,
                   steady_ratio=theirs["best_s"] / ours["best_s"],
                   steady_ratio_no_diagnostic=theirs["best_s"] / ours["best_nodiag_s"],
                   steady_ratio_per_round=[min(t["steady_s"]) / min(o["steady_s"]) for o, t in rounds],
                   first_call_ratio=theirs["first_s"] / ours["first_s"],
                   import_plus_first_call_ratio=(theirs["import_s"] + theirs["first_s"]) / (ours["import_s"] + ours["first_s"]),
                   memory_ratio=theirs["peak_rss_mb"] / ours["peak_rss_mb"],
                   slt_ppl_steps_per_s=chain_steps / ours["best_s"],
                   slt_ppl_steps_per_s_no_diagnostic=chain_steps / ours["best_nodiag_s"],
                   devinterp_steps_per_s=chain_steps / theirs["best_s"])
        rows.append(row)
        spread = ", ".join(f"{x:.1f}x" for x in row["steady_ratio_per_round"])
        line = (f"{name} (d = {case.d}): steady state {row['slt_ppl_steps_per_s']:.0f} vs {row['devinterp_steps_per_s']:.0f} "
                f"chain-steps/s = {row['steady_ratio']:.1f}x (rounds: {spread}; without the MALA diagnostic "
                f"{row['slt_ppl_steps_per_s_no_diagnostic']:.0f} = {row['steady_ratio_no_diagnostic']:.1f}x); "
                f"first call {ours['first_s']:.2f} s vs {theirs['first_s']:.2f} s "
                f"= {row['first_call_ratio']:.1f}x (import + first call {row['import_plus_first_call_ratio']:.1f}x); "
                f"peak RSS {ours['peak_rss_mb']:.0f} vs {theirs['peak_rss_mb']:.0f} MB")
        if acc_steps:
            line += (f"; equal wall clock ({ours['acc_s']:.0f} s vs {theirs['acc_s']:.0f} s, {ours['acc_steps']} vs "
                     f"{acc_steps} steps): llc {ours['acc_llc']:.2f} +/- {ours['acc_llc_std']:.2f} vs "
                     f"{theirs['acc_llc']:.2f} +/- {theirs['acc_llc_std']:.2f}, against the exact L_n(w*) "
                     f"{theirs['acc_llc_exact_baseline']:.2f} +/- {theirs['acc_llc_exact_baseline_std']:.2f} "
                     f"(lambda {lam:.2f})")
        print(line, flush=True)
    machine = f"{platform.machine()} {os.cpu_count()} CPU cores; slt_ppl on jax CPU, devinterp 1.3.2 on torch CPU"
    if quick or "--only" in sys.argv or "--no-accuracy" in sys.argv:
        return
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "devinterp_compare.json"), "w") as fh:
        json.dump({"machine": machine, "rows": rows}, fh, indent=1)
    with open(os.path.join(ROOT, "benchmarks", "results", "devinterp_compare.txt"), "w") as fh:
        fh.write(f"# {machine}\n" + "\n".join(json.dumps(r) for r in rows) + "\n")


if __name__ == "__main__":
    main()
