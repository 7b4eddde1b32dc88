"""slt_ppl beside its two PyTorch peers, canonical-interp 0.2.7 and devinterp 1.3.2: same problems, same SGLD.

Setup (once):
    python3.12 -m venv .venv-devinterp && .venv-devinterp/bin/pip install torch==2.13.0 devinterp==1.3.2
    python3.12 -m venv .venv-canonical && .venv-canonical/bin/pip install --upgrade pip \
        && .venv-canonical/bin/pip install torch==2.13.0 canonical-interp==0.2.7   (an old pip picks 0.1.5)
Run: .venv/bin/python benchmarks/peers_compare.py   (prints, writes benchmarks/results/peers_compare.{txt,json})
     [--quick]: a smoke run, printed only; [--torch-threads N]: the peers' torch threads (default 1, see below)

The three tools run one SGLD: noise variance eps, drift eps/2 grad U, U = n beta L_B(w) + gamma/2 ||w - w*||^2
(slt_ppl's step_size, devinterp's SGLD lr and canonical-interp's learning_rate are all this eps), with the same
data, w* (the teacher), eps (slt_ppl's auto step, measured once), nbeta = n / log n, gamma = 1, batch 500,
4 chains, the same number of steps and no burn-in. The loss is each tool's mean over the batch of
1/2 ||y - f(x)||^2, i.e. the Gaussian negative log-likelihood slt_ppl reads from the NumPyro program less its
constant, which cancels in L(w) - L(w*). What differs is each tool's own design, kept as it ships:
  * baseline L(w*): slt_ppl pairs each draw with L_B(w*) on the draw's own batch; canonical-interp takes the
    full-data mean over the loader's batches (exact L_n(w*) here, 20 equal batches); devinterp the mean of
    num_chains random batches (noisy: about +/- nbeta sd(loss) / sqrt(2000)).
  * batches: slt_ppl draws each chain's batch independently (with replacement); canonical-interp feeds one
    batch to all chains (vmapped, in_dims None) and cycles the loader through itertools.cycle, which replays
    the first epoch's 20 shuffled batches forever; devinterp runs its chains one after another, each
    iterating the shuffled loader.
  * compilation: slt_ppl jit-compiles its whole chunked loop (XLA; newer versions keep a persistent
    compilation cache, SLT_PPL_COMPILATION_CACHE); canonical-interp torch.compile's (mode "reduce-overhead",
    its default) the vmapped grad function and the SGLD update; devinterp is eager PyTorch. Both compiling
    tools get a fresh on-disk cache per problem: their round-1 first call is cold, their round-2 first call
    finds round 1's cache (both kept; the first-call ratios are cold against cold).

Methodology (as benchmarks/devinterp_compare.py, whose children and helpers this reuses): every tool runs in
its own fresh process, which imports (timed), makes a first call (with compilation) and REPEATS more, whose
best is the steady state; the processes alternate ROUNDS times (order reversed every other round) and each
figure is the best over a tool's calls, the figure least moved by this shared machine's drift (its 1-minute
load average is recorded beside every process). slt_ppl runs twice per repeat, with its defaults (the MALA
diagnostic every 10 steps) and with diagnostic_every=None, the like-for-like figure the ratios use. Peak
memory is the process's VmHWM (the inductor's compile workers, separate processes, are not counted).

Threads: on this 2-core machine torch's OpenMP pool at 2 threads collapses whenever another process holds a
core (measured while writing this: canonical-interp, d = 28000, 500 steps: 1.6 s quiet, 23-55 s contended,
first call 70 s; at 1 thread 2.2-3.3 s either way; devinterp 11 s vs 110 s), so the peers run at
torch.set_num_threads(1), their fastest robust setting here, and slt_ppl keeps XLA's defaults.

Trajectory workload: the LLC at K checkpoints, w*_k = teacher + N(0, PERTURB^2) per weight, of the smaller
DLN, 4 chains x TRAJ_STEPS steps each, the same eps: slt_ppl as a loop of estimate_llc and as one
estimate_llc_batched call (each in a fresh process, compilation included), canonical-interp and devinterp as a
loop of their estimators over one model whose weights are overwritten in place (so torch.compile's cache
holds). Each tool: total time from the first call, the first call, and the later checkpoints' mean. Every
checkpoint uses seed 0 (as a trajectory would), so within a tool the checkpoints share their random numbers
and their LLCs differ by little more than the perturbation's effect; the mean LLC is a sanity check only.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import devinterp_compare as dc  # noqa: E402  (its children, problem(), best_of())

DEVINTERP_PY = os.path.join(ROOT, ".venv-devinterp", "bin", "python")
CANONICAL_PY = os.path.join(ROOT, ".venv-canonical", "bin", "python")

# slt_ppl's own adaptive extras are switched off where its API has them (the package changes under this script):
# extend_burnin (a drifting trace's first half becomes burn-in and as many draws again are sampled) would run more
# steps than the peers; the burn-in each call used is recorded (num_burnin_used) to show it stayed 0.
SLT_FIXED = r"""
import inspect
def fixed(fn):
    return {"extend_burnin": 0} if "extend_burnin" in inspect.signature(fn).parameters else {}
def burnin_used(res):
    try:
        return int(res.idata.attrs.get("num_burnin", 0))
    except Exception:
        return None
"""


def _patched(template: str, pairs) -> str:
    for old, new in pairs:
        if template.count(old) != 1:
            raise RuntimeError(f"devinterp_compare's JAX child changed: {old!r} not found once")
        template = template.replace(old, new)
    return template


JAX_CHILD = _patched(dc.JAX_CHILD, [
    ("import_s = time.perf_counter() - t_import\n",
     "import_s = time.perf_counter() - t_import\n" + SLT_FIXED.replace("{", "{{").replace("}", "}}")
     + "FIXED = fixed(slt.estimate_llc)\n"),
    ("progress_bar=False, **extra)", "progress_bar=False, **FIXED, **extra)"),
    ("result.update(first_s=first_s,", "result.update(num_burnin_used=burnin_used(res), fixed=FIXED, first_s=first_s,"),
])

CANONICAL_CHILD = dc.PEAK_RSS + r"""
import json, logging, sys, time
t_import = time.perf_counter()
import numpy as np, torch
from torch.utils.data import DataLoader, TensorDataset
from canonical_interp import LLCEstimator
import_s = time.perf_counter() - t_import
logging.getLogger("canonical_interp").setLevel(logging.ERROR)  # its advice on pin_memory, workers, burn-in
torch.set_num_threads({threads})
d = np.load({path!r})
X, y = torch.tensor(d["X"]), torch.tensor(d["y"])
widths = [int(w) for w in d["widths"]]
layers = [torch.nn.Linear(widths[i], widths[i + 1], bias=False) for i in range(len(widths) - 1)]
model = torch.nn.Sequential(*layers)
with torch.no_grad():
    for i, layer in enumerate(layers):
        layer.weight.copy_(torch.tensor(d[f"W{{i}}"]))
def criterion(out, yb):
    return 0.5 * ((yb - out) ** 2).sum(dim=1).mean()
loader = DataLoader(TensorDataset(X, y), batch_size={batch}, shuffle=True)
def run(draws):
    est = LLCEstimator(draws=draws, chains={chains}, burnin_steps=0, steps_bw_draws=1,
                       learning_rate={eps}, localization=1.0, nbeta={nbeta})
    t0 = time.perf_counter()
    llc = est.estimate_llc(model, loader, criterion_fn=criterion, seed=0, show_progress=False)
    return time.perf_counter() - t0, float(llc), est
first_s, llc, est = run({steps})
steady = [run({steps})[0] for _ in range({repeats})]
print(json.dumps(dict(import_s=import_s, first_s=first_s, steady_s=steady, best_s=min(steady), llc=llc,
                      llc_std=float(est.get_metrics()["llc_std"]), loss_star=float(est.original_loss),
                      peak_rss_mb=peak_rss_mb())))
"""

# ---- trajectory children: K checkpoints W{i} of shape (K, out, in) in the npz; per-checkpoint LLCs and times
TRAJ_SLT = dc.PEAK_RSS + r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")  # the verdict's not-converged warnings (no burn-in, by design)
sys.path.insert(0, {root!r})
t_import = time.perf_counter()
import numpy as np, jax.numpy as jnp
import slt_ppl as slt
slt.estimate_llc
import_s = time.perf_counter() - t_import
""" + SLT_FIXED.replace("{", "{{").replace("}", "}}") + r"""
from slt_ppl.models import dln
d = np.load({path!r})
widths = tuple(int(w) for w in d["widths"])
K = d["W0"].shape[0]
plist = [{{f"W{{i}}": jnp.asarray(d[f"W{{i}}"][k]) for i in range(len(widths) - 1)}} for k in range(K)]
args = (jnp.asarray(d["X"]), jnp.asarray(d["y"]), widths, 1.0)
kw = dict(num_chains={chains}, num_draws={steps}, num_burnin=0, step_size={eps}, nbeta={nbeta}, localization=1.0,
          batch_size={batch}, seed=0, burnin_step_factor=1.0, diagnostic_every=None, progress_bar=False,
          temperature_check=None)  # like for like with the peers: no partner chains at n beta / 4
times, llcs = [], []
t0 = time.perf_counter()
if {batched}:
    FX = fixed(slt.estimate_llc_batched)
    kw.update(FX)
    res = slt.estimate_llc_batched(dln.model, plist, args, **kw)
    burnin = [burnin_used(r) for r in res]
    first_s = total_s = time.perf_counter() - t0
    llcs = [r.llc for r in res]
    t1 = time.perf_counter()
    slt.estimate_llc_batched(dln.model, plist, args, **kw)
    again_s = time.perf_counter() - t1
else:
    FX = fixed(slt.estimate_llc)
    kw.update(FX)
    burnin = []
    for p in plist:
        t1 = time.perf_counter()
        res = slt.estimate_llc(dln.model, p, args, **kw)
        llcs.append(res.llc)
        burnin.append(burnin_used(res))
        times.append(time.perf_counter() - t1)
    total_s, first_s, again_s = time.perf_counter() - t0, times[0], None
print(json.dumps(dict(import_s=import_s, total_s=total_s, first_s=first_s, again_s=again_s, times=times,
                      llcs=[float(v) for v in llcs], num_burnin_used=sorted(set(burnin), key=str), fixed=FX,
                      peak_rss_mb=peak_rss_mb())))
"""

TRAJ_TORCH_COMMON = dc.PEAK_RSS + r"""
import json, logging, sys, time, warnings
warnings.simplefilter("ignore")
t_import = time.perf_counter()
import numpy as np, torch
from torch.utils.data import DataLoader, TensorDataset
{imports}
import_s = time.perf_counter() - t_import
logging.getLogger("canonical_interp").setLevel(logging.ERROR)
torch.set_num_threads({threads})
d = np.load({path!r})
X, y = torch.tensor(d["X"]), torch.tensor(d["y"])
widths = [int(w) for w in d["widths"]]
d = {{k: d[k] for k in d.files}}  # read once (an NpzFile re-reads its zip on every access)
K = d["W0"].shape[0]
layers = [torch.nn.Linear(widths[i], widths[i + 1], bias=False) for i in range(len(widths) - 1)]
model = torch.nn.Sequential(*layers)
loader = DataLoader(TensorDataset(X, y), batch_size={batch}, shuffle=True)
times, llcs = [], []
t0 = time.perf_counter()
for k in range(K):
    t1 = time.perf_counter()
    with torch.no_grad():  # one model, its weights overwritten: a training run's checkpoints loaded in turn
        for i, layer in enumerate(layers):
            layer.weight.copy_(torch.from_numpy(d[f"W{{i}}"][k]))
{call}
    times.append(time.perf_counter() - t1)
total_s = time.perf_counter() - t0
print(json.dumps(dict(import_s=import_s, total_s=total_s, first_s=times[0], again_s=None, times=times,
                      llcs=llcs, peak_rss_mb=peak_rss_mb())))
"""

TRAJ_CANONICAL = TRAJ_TORCH_COMMON.replace("{imports}", "from canonical_interp import LLCEstimator").replace(
    "{call}", r"""    est = LLCEstimator(draws={steps}, chains={chains}, burnin_steps=0, learning_rate={eps}, localization=1.0,
                       nbeta={nbeta})
    llcs.append(float(est.estimate_llc(model, loader, criterion_fn=lambda o, t: 0.5 * ((t - o) ** 2).sum(dim=1).mean(),
                                       seed=0, show_progress=False)))""")

TRAJ_DEVINTERP = TRAJ_TORCH_COMMON.replace(
    "{imports}", "from devinterp.optim.sgld import SGLD\nfrom devinterp.slt.sampler import estimate_learning_coeff_with_summary"
).replace("{call}", r"""    out = estimate_learning_coeff_with_summary(
        model, loader, evaluate=lambda m, b: (0.5 * ((b[1] - m(b[0])) ** 2).sum(dim=1).mean(), {{}}),
        sampling_method=SGLD, optimizer_kwargs=dict(lr={eps}, localization=1.0, nbeta={nbeta}),
        num_chains={chains}, num_draws={steps}, num_burnin_steps=0, num_steps_bw_draws=1, seed=0, device="cpu",
        verbose=False, online=False)
    llcs.append(float(out["llc/mean"]))""")

VERSIONS = r"""
import importlib.metadata as m, json, platform
out = {"python": platform.python_version()}
for p in ("torch", "devinterp", "canonical-interp", "jax", "jaxlib", "numpyro", "blackjax", "numpy"):
    try:
        out[p] = m.version(p)
    except m.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def child(python, template, env=None, timeout=1800, **kw) -> dict:
    """One fresh process; its JSON result with the 1-minute load average at its start and end, and its wall time."""
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    full_env = {**os.environ, **(env or {})}
    try:
        out = subprocess.run([python, "-c", template.format(**kw)], capture_output=True, text=True, env=full_env,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(load_start=load0, load_end=os.getloadavg()[0], process_wall_s=time.perf_counter() - t0)
    return res


def machine_info() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
    for name, py in (("slt_ppl_env", sys.executable), ("devinterp_env", DEVINTERP_PY), ("canonical_env", CANONICAL_PY)):
        info[name] = json.loads(subprocess.run([py, "-c", VERSIONS], capture_output=True, text=True).stdout)
    import slt_ppl

    info["slt_ppl"] = slt_ppl.__version__
    return info


def merge(results) -> dict:
    """dc.best_of with the load averages and process wall times kept per round."""
    results = [r for r in results if "error" not in r]
    out = dc.best_of(results)
    for key in ("load_start", "load_end", "process_wall_s", "first_s", "llc"):
        out[key + "_per_round"] = [r.get(key) for r in results]
    out.pop("load_start", None), out.pop("load_end", None), out.pop("process_wall_s", None)
    return out


def timed_problems(problems, rounds, repeats, threads) -> list:
    import slt_ppl as slt

    rows = []
    for name, widths, r, steps in problems:
        case, arrays = dc.problem(widths, r)
        n = arrays["X"].shape[0]
        nbeta = n / math.log(n)
        eps = slt.estimate_llc(**case.llc_kwargs(), num_draws=200, batch_size=500, progress_bar=False).step_size
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "problem.npz")
            np.savez(path, **arrays)
            kw = dict(path=path, eps=eps, nbeta=nbeta, batch=500, chains=4, root=ROOT, threads=threads,
                      repeats=repeats, steps=steps)
            cache = os.path.join(tmp, "inductor")  # fresh in round 1 (a cold compile), reused in round 2
            xla_cache = os.path.join(tmp, "xla")  # slt_ppl's persistent XLA cache (where the package has one), alike
            per_round = []
            for i in range(rounds):
                runs = {
                    "slt_ppl": lambda: child(sys.executable, JAX_CHILD, env={"SLT_PPL_COMPILATION_CACHE": xla_cache},
                                             acc_steps_ours=0, **kw),
                    "canonical": lambda: child(CANONICAL_PY, CANONICAL_CHILD, env={"TORCHINDUCTOR_CACHE_DIR": cache}, **kw),
                    "devinterp": lambda: child(DEVINTERP_PY, dc.TORCH_CHILD, acc_steps=0, **kw),
                }
                order = list(runs) if i % 2 == 0 else list(runs)[::-1]
                res = {tool: runs[tool]() for tool in order}
                per_round.append(res)
                print(f"  [{name}] round {i + 1}: " + ", ".join(
                    f"{t} {res[t].get('best_nodiag_s', res[t].get('best_s', float('nan'))):.2f} s" for t in order), flush=True)
        tools = {t: merge(r[t] for r in per_round) for t in ("slt_ppl", "canonical", "devinterp")}
        chain_steps = 4 * steps
        ours = tools["slt_ppl"]
        row = dict(problem=name, widths=list(widths), r=r, d=case.d, n=n, eps=eps, nbeta=nbeta, steps=steps, chains=4,
                   batch=500, gamma=1.0, lam=float(case.coefficient.lam), rounds=rounds, repeats=repeats,
                   torch_threads=threads, tools=tools,
                   steps_per_s={"slt_ppl": chain_steps / ours["best_nodiag_s"],
                                "slt_ppl_with_diagnostic": chain_steps / ours["best_s"],
                                "canonical": chain_steps / tools["canonical"]["best_s"],
                                "devinterp": chain_steps / tools["devinterp"]["best_s"]})
        # first calls: round 1 compiles cold (fresh on-disk caches), round 2 finds round 1's caches on disk
        for tool in ("slt_ppl", "canonical"):
            firsts = tools[tool]["first_s_per_round"]
            row[f"{tool}_first_s_cold"] = firsts[0]
            row[f"{tool}_first_s_warm_disk_cache"] = firsts[1] if rounds > 1 else None
        ours_first = row["slt_ppl_first_s_cold"]
        for peer in ("canonical", "devinterp"):
            p = tools[peer]
            p_first = row["canonical_first_s_cold"] if peer == "canonical" else p["first_s"]
            row[f"vs_{peer}"] = dict(
                steady=p["best_s"] / ours["best_nodiag_s"],
                steady_per_round=[min(rr[peer]["steady_s"]) / min(rr["slt_ppl"]["nodiag_s"]) for rr in per_round],
                first_call=p_first / ours_first,
                import_plus_first_call=(p["import_s"] + p_first) / (ours["import_s"] + ours_first),
                peak_rss_slt_over_peer=ours["peak_rss_mb"] / p["peak_rss_mb"])
            if rounds > 1:
                p_warm = row["canonical_first_s_warm_disk_cache"] if peer == "canonical" else p["first_s"]
                row[f"vs_{peer}"]["first_call_warm_disk_caches"] = p_warm / row["slt_ppl_first_s_warm_disk_cache"]
        rows.append(row)
    return rows


def trajectory(K, steps, perturb, threads) -> dict:
    import slt_ppl as slt

    widths, r = (20, 30, 30, 20), 5
    case, arrays = dc.problem(widths, r)
    n = arrays["X"].shape[0]
    nbeta = n / math.log(n)
    eps = slt.estimate_llc(**case.llc_kwargs(), num_draws=200, batch_size=500, progress_bar=False).step_size
    rng = np.random.default_rng(1)
    ckpt = {k: (v[None] + perturb * rng.normal(size=(K,) + v.shape)).astype(np.float32) if k.startswith("W") else v
            for k, v in arrays.items()}
    out = dict(problem=f"DLN {list(widths)} r={r}", d=case.d, checkpoints=K, steps=steps, chains=4, perturb=perturb,
               eps=eps, nbeta=nbeta, lam=float(case.coefficient.lam), torch_threads=threads, tools={})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.npz")
        np.savez(path, **ckpt)
        kw = dict(path=path, eps=eps, nbeta=nbeta, batch=500, chains=4, root=ROOT, threads=threads, steps=steps)
        runs = [("slt_ppl_batched", sys.executable, TRAJ_SLT, dict(batched=True),
                 {"SLT_PPL_COMPILATION_CACHE": os.path.join(tmp, "xla_b")}),
                ("slt_ppl_loop", sys.executable, TRAJ_SLT, dict(batched=False),
                 {"SLT_PPL_COMPILATION_CACHE": os.path.join(tmp, "xla_l")}),
                ("canonical_loop", CANONICAL_PY, TRAJ_CANONICAL, {}, {"TORCHINDUCTOR_CACHE_DIR": os.path.join(tmp, "ind")}),
                ("devinterp_loop", DEVINTERP_PY, TRAJ_DEVINTERP, {}, {})]
        for name, py, template, extra, env in runs:
            res = child(py, template, env=env, **kw, **extra)
            if "error" not in res:
                t = res["times"]
                res["per_checkpoint_s"] = res["total_s"] / K
                res["later_checkpoint_mean_s"] = float(np.mean(t[1:])) if len(t) > 1 else None
                res["llc_mean"], res["llc_sd"] = float(np.mean(res["llcs"])), float(np.std(res["llcs"], ddof=1))
            out["tools"][name] = res
            print(f"  [trajectory] {name}: {res.get('total_s', float('nan')):.1f} s", flush=True)
    base = out["tools"]["slt_ppl_batched"]["total_s"]
    loop = out["tools"]["slt_ppl_loop"]["total_s"]
    out["total_ratio_vs_slt_batched"] = {k: v["total_s"] / base for k, v in out["tools"].items() if "total_s" in v}
    out["total_ratio_vs_slt_loop"] = {k: v["total_s"] / loop for k, v in out["tools"].items() if "total_s" in v}
    return out


def table(rows, traj, info) -> str:
    L = [f"# {info['cpu']}, {info['cores']} cores, {info['mem_gb']} GB; slt_ppl {info['slt_ppl']} "
         f"(jax {info['slt_ppl_env'].get('jax')}), canonical-interp {info['canonical_env'].get('canonical-interp')} "
         f"and devinterp {info['devinterp_env'].get('devinterp')} on torch {info['canonical_env'].get('torch')} CPU "
         f"({rows[0]['torch_threads'] if rows else traj['torch_threads']} torch thread(s))", ""]
    for row in rows:
        t = row["tools"]
        L.append(f"{row['problem']}: d = {row['d']}, n = {row['n']}, eps = {row['eps']:.3g}, nbeta = {row['nbeta']:.1f}, "
                 f"gamma 1, batch 500, 4 chains x {row['steps']} steps, no burn-in; exact lambda (Aoyagi) = {row['lam']:g}; "
                 f"best of {row['rounds']} alternating rounds x {row['repeats']} repeats")
        L.append(f"  {'tool':<22}{'import s':>9}{'first s':>9}{'chain-steps/s':>15}{'LLC':>10}{'peak RSS MB':>13}"
                 "   (first s: a cold compile; in brackets round 2's, with round 1's compilation cache on disk)")
        warm = row["slt_ppl_first_s_warm_disk_cache"]
        L.append(f"  {'slt_ppl (no diagn.)':<22}{t['slt_ppl']['import_s']:>9.2f}{row['slt_ppl_first_s_cold']:>9.2f}"
                 f"{row['steps_per_s']['slt_ppl']:>15.0f}{t['slt_ppl']['llc']:>10.1f}{t['slt_ppl']['peak_rss_mb']:>13.0f}"
                 + (f"   ({warm:.2f} s)" if warm is not None else ""))
        L.append(f"  {'slt_ppl (defaults)':<22}{'':>9}{'':>9}{row['steps_per_s']['slt_ppl_with_diagnostic']:>15.0f}")
        warm = row["canonical_first_s_warm_disk_cache"]
        L.append(f"  {'canonical-interp':<22}{t['canonical']['import_s']:>9.2f}{row['canonical_first_s_cold']:>9.2f}"
                 f"{row['steps_per_s']['canonical']:>15.0f}{t['canonical']['llc']:>10.1f}{t['canonical']['peak_rss_mb']:>13.0f}"
                 + (f"   ({warm:.2f} s)" if warm is not None else ""))
        L.append(f"  {'devinterp':<22}{t['devinterp']['import_s']:>9.2f}{t['devinterp']['first_s']:>9.2f}"
                 f"{row['steps_per_s']['devinterp']:>15.0f}{t['devinterp']['llc']:>10.1f}{t['devinterp']['peak_rss_mb']:>13.0f}")
        for peer in ("canonical", "devinterp"):
            v = row[f"vs_{peer}"]
            L.append(f"  slt_ppl vs {peer}: steady {v['steady']:.1f}x faster (rounds: "
                     + ", ".join(f"{x:.1f}x" for x in v["steady_per_round"])
                     + f"), first call {v['first_call']:.1f}x"
                     + (f" (warm disk caches {v['first_call_warm_disk_caches']:.1f}x)" if "first_call_warm_disk_caches" in v else "")
                     + f", import + first call {v['import_plus_first_call']:.1f}x, "
                       f"peak RSS slt_ppl/peer {v['peak_rss_slt_over_peer']:.2f}")
        L.append(f"  slt_ppl: switched off {t['slt_ppl'].get('fixed') or 'nothing'}, burn-in used {t['slt_ppl'].get('num_burnin_used')}")
        L.append("  1-min load average at each process start (slt_ppl, canonical, devinterp): "
                 + "; ".join(", ".join(f"{t[k]['load_start_per_round'][i]:.1f}" for k in ("slt_ppl", "canonical", "devinterp"))
                             for i in range(len(t["slt_ppl"]["load_start_per_round"]))))
        L.append("")
    if traj:
        L.append(f"Trajectory: {traj['problem']} (d = {traj['d']}) at {traj['checkpoints']} checkpoints w* = teacher + "
                 f"N(0, {traj['perturb']:g}^2), 4 chains x {traj['steps']} steps each, eps = {traj['eps']:.3g}; one fresh process per tool")
        L.append(f"  {'tool':<18}{'total s':>9}{'first s':>9}{'later ckpt s':>14}{'per ckpt s':>12}{'x slt batched':>15}"
                 f"{'mean LLC':>10}{'peak RSS MB':>13}{'load':>6}")
        notes = []
        for name, v in traj["tools"].items():
            if "error" in v:
                L.append(f"  {name:<18}{v['error']}")
                continue
            later = v["later_checkpoint_mean_s"]
            later = f"{later:.3f}" if later is not None else f"({v['again_s']:.2f} again)"
            if name.startswith("slt_ppl"):
                notes.append(f"{name}: switched off {v.get('fixed') or 'nothing'}, burn-in used {v.get('num_burnin_used')}")
            L.append(f"  {name:<18}{v['total_s']:>9.1f}{v['first_s']:>9.2f}{later:>14}{v['per_checkpoint_s']:>12.3f}"
                     f"{traj['total_ratio_vs_slt_batched'][name]:>15.1f}{v['llc_mean']:>10.1f}{v['peak_rss_mb']:>13.0f}"
                     f"{v['load_start']:>6.1f}")
        L.extend("  " + x for x in notes)
    return "\n".join(L) + "\n"


def main() -> None:
    for py in (DEVINTERP_PY, CANONICAL_PY):
        if not os.path.exists(py):
            sys.exit(f"no venv python at {py}; see this script's docstring")
    quick = "--quick" in sys.argv
    threads = int(sys.argv[sys.argv.index("--torch-threads") + 1]) if "--torch-threads" in sys.argv else 1
    if quick:
        problems, rounds, repeats = [("DLN [20,30,30,20] r=5", (20, 30, 30, 20), 5, 200)], 2, 1
        K, traj_steps = 6, 50
    else:
        problems = [("DLN [20,30,30,20] r=5", (20, 30, 30, 20), 5, 1000),
                    ("DLN [90,100,100,90] r=20", (90, 100, 100, 90), 20, 1000)]
        rounds, repeats = 2, 2
        K, traj_steps = 100, 100
    t0 = time.perf_counter()
    info = machine_info()
    rows = timed_problems(problems, rounds, repeats, threads)
    traj = trajectory(K, traj_steps, 1e-3, threads)
    text = table(rows, traj, info)
    text += f"(benchmark wall time {time.perf_counter() - t0:.0f} s)\n"
    print("\n" + text)
    if quick:
        return
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "peers_compare.json"), "w") as fh:
        json.dump({"machine": info, "rows": rows, "trajectory": traj}, fh, indent=1)
    with open(os.path.join(ROOT, "benchmarks", "results", "peers_compare.txt"), "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
