"""What an accelerator buys slt_ppl: SGLD throughput against the matmul peak, a 1e8-parameter LLC, a batched
transformer trajectory and a PyTorch peer, all measured in one run of about 8 minutes on one H100 or H200.

Parts (--parts, comma-separated, default all, run in this order):
  peak   the matmul peak of this device, measured here: the best time of a jitted jnp.matmul of two N x N
         matrices (N = 8192) in float32 at JAX's default precision (what the SGLD below runs at), float32 at
         precision "highest", and bfloat16; 2 N^3 FLOPs each, reported in TFLOP/s.
  dln    SGLD time per step of slt.estimate_llc on deep linear networks [w, w, w, w] (d = 3 w^2 at about 1e6,
         1e7 and 1e8 parameters; slt_ppl.models.dln, built as benchmarks/scaling.py builds them): 4 chains,
         batch 500, no burn-in, a fixed step, no MALA diagnostic, no temperature partner chains. The time per
         step is the marginal one, (t(2S steps) - t(S steps)) / S on compiled calls, so the fixed cost of a call
         (the loss at w* on all data, the summaries) drops out. FLOPs per step are counted analytically:
         chains x (forward 2 b d + weight gradients 2 b d + input gradients 2 b (d - w0 w1)) ~ 6 b d per chain;
         achieved / peak is the fraction of the float32 (default precision) and of the bfloat16 peak. Everything
         else a step does (noise, localization, the loss at w* for the paired difference) is not counted: the
         fraction is a lower bound.
  llc    the LLC of the 1e8-parameter DLN end to end with slt.estimate_llc (automatic step, 4 chains, a few
         hundred draws, batch 500, the default temperature check, no burn-in extension, sampling cut at the time
         the later parts leave it), its se and verdict, the wall time, and Aoyagi's exact coefficient
         (slt_ppl.theory.dln). At n = 10 000 << d the estimate is not expected to reach the asymptotic value;
         the row shows what one call costs and gives.
  icl    the in-context-regression transformer (slt_ppl.models.icl_regression, icl.FULL, about 51K parameters)
         trained briefly (500 Adam steps), then slt.estimate_llc_trajectory over 16 of its checkpoints on the
         task data, 4 chains x 1000 draws, batch 64, with one step calibrated at the last checkpoint:
         compiled once, vmapped over the checkpoints (batched). Time per checkpoint, first call (with the
         compilation) and again (compiled).
  peers  canonical-interp's LLCEstimator beside slt_ppl on the same GPU, on the 1e6 DLN with the same step,
         n beta, gamma, batch, chains and steps (as benchmarks/peers_compare.py, with devices="cuda"), in a child
         process. Needs torch with CUDA and canonical-interp importable from this Python; otherwise its row
         records why it was skipped, and slt_ppl's row is still measured.

Every part is guarded by the time budget (--budget seconds, default 480): a part, or one DLN size, that would
not fit in the time left is skipped, and an alarm at the end of the budget stops a part under way (keeping the
DLN sizes it finished); both are recorded, so that the script always finishes and writes what it measured. A part
that fails is recorded with its error, and the script exits 1 after writing.

Run on a lent machine, from the repository root (the script must be run from there):
    pip install -e . && pip install "jax[cuda12]"
    python benchmarks/gpu.py                 # writes benchmarks/results/gpu.txt and gpu.json
    python benchmarks/gpu.py --parts peak,dln --budget 200 --out /tmp/gpu.txt
Dry run (the same code paths at tiny sizes on whatever device is present, under a minute on a 2-core CPU;
it writes to a temporary file unless --out is given, never to benchmarks/results/gpu.txt):
    python benchmarks/gpu.py --dry-run [--out /tmp/gpu_dry.txt]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
REAL_OUT = os.path.join(ROOT, "benchmarks", "results", "gpu.txt")
PARTS = ("peak", "dln", "llc", "icl", "peers")
CHAINS = 4

# sizes and run lengths; "need" is the time (s) a part or DLN size is given at least before it starts
REAL = dict(
    matmul_n=8192, matmul_reps=20,
    dln_widths=[577, 1826, 5774], dln_steps=[2000, 1000, 200], dln_need=[15, 30, 90], batch=500, n=10_000,
    llc_widths=5774, llc_draws=300, llc_burnin=300, llc_need=90, llc_reserve=180,
    icl_size="FULL", icl_step="auto", icl_train_steps=500, icl_checkpoints=16, icl_draws=1000, icl_batch=64,
    icl_n=4096, icl_need=90,
    peers_steps=500, peers_need=90, need={"peak": 10, "dln": 15},
)
DRY = dict(
    matmul_n=256, matmul_reps=3,
    dln_widths=[18, 58], dln_steps=[200, 100], dln_need=[1, 1], batch=50, n=500,
    llc_widths=58, llc_draws=40, llc_burnin=40, llc_need=1, llc_reserve=5,
    icl_size="TINY", icl_step=1e-6, icl_train_steps=10, icl_checkpoints=2, icl_draws=20, icl_batch=16, icl_n=128,
    icl_need=1,
    peers_steps=100, peers_need=1, need={"peak": 1, "dln": 1},
)


def say(msg: str) -> None:
    print(f"[gpu {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Budget:
    """Seconds left of --budget, and a record of what was skipped for time."""

    def __init__(self, total: float):
        self.total, self.t0, self.skipped = float(total), time.perf_counter(), []

    def left(self) -> float:
        return self.total - (time.perf_counter() - self.t0)

    def fits(self, what: str, need: float) -> bool:
        if self.left() >= need:
            return True
        self.skipped.append(f"{what}: {self.left():.0f} s left of the budget, needs about {need:.0f} s")
        say(f"skipping {what} for time")
        return False


def device_info() -> dict:
    import jax

    import slt_ppl

    dev = jax.devices()[0]
    return {"device_kind": dev.device_kind, "platform": dev.platform, "device_count": jax.device_count(),
            "jax": jax.__version__, "slt_ppl": slt_ppl.__version__, "python": sys.version.split()[0],
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
            "compilation_cache": os.environ.get("SLT_PPL_COMPILATION_CACHE", "slt_ppl's default (on)")}


# ---------------------------------------------------------------------------------------------------- peak
def matmul_tflops(n: int, dtype: str, precision, reps: int) -> dict:
    """Best and median TFLOP/s of a jitted N x N matmul (2 N^3 FLOPs)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32).astype(dtype)
    mm = jax.jit(lambda x, y: jnp.matmul(x, y, precision=precision))
    mm(a, b).block_until_ready()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        mm(a, b).block_until_ready()
        times.append(time.perf_counter() - t)
    flops = 2.0 * n**3
    return {"dtype": dtype, "precision": precision or "default", "n": n, "reps": reps, "best_ms": min(times) * 1e3,
            "tflops": flops / min(times) / 1e12, "median_tflops": flops / float(np.median(times)) / 1e12}


def part_peak(cfg, budget, state) -> dict:
    rows = [matmul_tflops(cfg["matmul_n"], dt, prec, cfg["matmul_reps"])
            for dt, prec in (("float32", None), ("float32", "highest"), ("bfloat16", None))]
    for r in rows:
        say(f"matmul {r['dtype']} ({r['precision']}) N={r['n']}: {r['tflops']:.2f} TFLOP/s")
    state["peak_f32"], state["peak_bf16"] = rows[0]["tflops"], rows[2]["tflops"]
    return {"rows": rows}


# ---------------------------------------------------------------------------------------------------- dln
def dln_case(w: int, n: int, state):
    """The DLN [w, w, w, w] with rank w // 4, built once per run (and its build time)."""
    cases = state.setdefault("dln_cases", {})
    if w not in cases:
        from slt_ppl.models import dln

        t = time.perf_counter()
        cases[w] = (dln.make((w, w, w, w), max(1, w // 4), n=n, seed=0), time.perf_counter() - t)
    return cases[w]


def step_flops(widths, batch: int, chains: int = CHAINS) -> float:
    d = sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1))
    return chains * (2 * batch * d + 2 * batch * d + 2 * batch * (d - widths[0] * widths[1]))


def sgld_call(case, steps: int, batch: int, step_size: float, chunk: int | None = None, **extra):
    """One estimate_llc call of plain SGLD (no burn-in, diagnostic or partner chains), its result and wall time."""
    import slt_ppl as slt

    kw = dict(sampler="sgld", num_chains=CHAINS, num_draws=steps, num_burnin=0, step_size=step_size,
              batch_size=batch, chunk_size=chunk or steps, seed=0, diagnostic_every=None, temperature_check=None,
              extend_burnin=0, progress_bar=False)
    kw.update(extra)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = slt.estimate_llc(**case.llc_kwargs(), **kw)
    return res, time.perf_counter() - t


def marginal_step(case, steps: int, batch: int, step_size: float) -> dict:
    """Seconds per step: (t(2 S) - t(S)) / S from the best of two compiled calls of each length, so that a call's
    fixed cost drops out ("marginal"); where the difference drowns in noise, t(2 S) / 2 S ("whole call", an upper
    bound). Also the first call's time (with its compilation) and t(S)."""
    _, first_s = sgld_call(case, steps, batch, step_size)  # compiles the chunk of S steps
    sgld_call(case, 2 * steps, batch, step_size, chunk=steps)  # two such chunks, and what depends on the draws
    one_s, two_s = math.inf, math.inf
    for _ in range(2):
        one_s = min(one_s, sgld_call(case, steps, batch, step_size)[1])
        two_s = min(two_s, sgld_call(case, 2 * steps, batch, step_size, chunk=steps)[1])
    marginal = two_s - one_s > 0.2 * one_s
    per_step = (two_s - one_s) / steps if marginal else two_s / (2 * steps)
    return {"s_per_step": per_step, "timing": "marginal" if marginal else "whole_call", "call_s": one_s,
            "first_call_s": first_s}


def time_dln(w: int, steps: int, cfg, state) -> dict:
    case, build_s = dln_case(w, cfg["n"], state)
    widths, batch = (w, w, w, w), cfg["batch"]
    t = marginal_step(case, steps, batch, 1e-9)
    tflops = step_flops(widths, batch) / t["s_per_step"] / 1e12
    row = {"d": case.d, "widths": list(widths), "steps": steps, "build_s": build_s, "first_call_s": t["first_call_s"],
           "call_s": t["call_s"], "ms_per_step": t["s_per_step"] * 1e3, "timing": t["timing"],
           "ms_per_step_whole_call": t["call_s"] / steps * 1e3, "gflop_per_step": step_flops(widths, batch) / 1e9,
           "tflops": tflops}
    if state.get("peak_f32"):
        row["frac_f32"] = tflops / state["peak_f32"]
        row["frac_bf16"] = tflops / state["peak_bf16"]
    return row


def part_dln(cfg, budget, state) -> dict:
    rows = []
    state["partial"] = {"rows": rows, "chains": CHAINS, "batch": cfg["batch"], "n": cfg["n"]}  # kept if time runs out
    for w, steps, need in zip(cfg["dln_widths"], cfg["dln_steps"], cfg["dln_need"]):
        if not budget.fits(f"dln d={3 * w * w:,}", need):
            continue
        row = time_dln(w, steps, cfg, state)
        rows.append(row)
        say(f"dln d={row['d']:,}: {row['ms_per_step']:.3f} ms/step, {row['tflops']:.3f} TFLOP/s"
            + (f" = {row['frac_f32']:.1%} of the float32 peak" if "frac_f32" in row else ""))
    return {"rows": rows, "chains": CHAINS, "batch": cfg["batch"], "n": cfg["n"]}


# ---------------------------------------------------------------------------------------------------- llc
def part_llc(cfg, budget, state) -> dict:
    import slt_ppl as slt
    from slt_ppl import theory

    w = cfg["llc_widths"]
    case, build_s = dln_case(w, cfg["n"], state)
    max_time = max(10.0, budget.left() - cfg["llc_reserve"])  # sampling stops there; the later parts keep theirs
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = slt.estimate_llc(**case.llc_kwargs(), sampler="sgld", num_chains=CHAINS, num_draws=cfg["llc_draws"],
                               num_burnin=cfg["llc_burnin"], batch_size=cfg["batch"], seed=0, progress_bar=False,
                               max_time=max_time, extend_burnin=0)
    wall = time.perf_counter() - t
    t = time.perf_counter()
    lam = float(theory.dln((w, w, w, w), max(1, w // 4)).lam)
    theory_s = time.perf_counter() - t
    row = {"d": case.d, "widths": [w] * 4, "r": max(1, w // 4), "n": cfg["n"], "estimate": float(res.llc),
           "se": float(res.se), "converged": bool(res.converged), "theory": lam, "wall_s": wall, "build_s": build_s,
           "theory_s": theory_s, "step_size": float(res.step_size), "draws": cfg["llc_draws"],
           "burnin": cfg["llc_burnin"], "max_time": max_time, "nbeta": float(res.nbeta)}
    say(f"llc d={row['d']:,}: {row['estimate']:.4g} +/- {row['se']:.3g} (theory {lam:.4g}), "
        f"converged={row['converged']}, {wall:.1f} s")
    return {"rows": [row]}


# ---------------------------------------------------------------------------------------------------- icl
def icl_checkpoints(cfg):
    from slt_ppl.models import icl_regression as icl

    config = getattr(icl, cfg["icl_size"])
    t = time.perf_counter()
    training = icl.train(config, steps=cfg["icl_train_steps"], num_checkpoints=cfg["icl_checkpoints"] + 4,
                         n=cfg["icl_n"], lr=1e-2)
    pick = np.unique(np.round(np.linspace(0, len(training.params) - 1, cfg["icl_checkpoints"])).astype(int))
    return training, [int(i) for i in pick], time.perf_counter() - t


def part_icl(cfg, budget, state) -> dict:
    import slt_ppl as slt
    from slt_ppl.models import icl_regression as icl

    training, pick, train_s = icl_checkpoints(cfg)
    lik = icl.likelihood(training)  # the fixed task data: one likelihood for every checkpoint
    ckpts = [training.params[i] for i in pick]
    kw = dict(num_chains=CHAINS, num_draws=cfg["icl_draws"], num_burnin=0, batch_size=cfg["icl_batch"], seed=0,
              diagnostic_every=None, temperature_check=None, progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        step = cfg["icl_step"]  # "auto": calibrated at the last checkpoint (the dry run fixes it: a CPU compiles
        if step == "auto":      # the curvature estimate of a transformer for most of a minute)
            step = float(slt.estimate_llc(lik, ckpts[-1], sampler="sgld", step_size="auto", extend_burnin=0,
                                          **kw).step_size)
        calib_s = time.perf_counter() - t
        runs = []
        for _ in range(2):  # first (compiles), then again (compiled)
            t = time.perf_counter()
            traj = slt.estimate_llc_trajectory(lik, ckpts, steps=[int(training.steps[i]) for i in pick],
                                               step_size=step, **kw)
            runs.append(time.perf_counter() - t)
    llc = np.asarray(traj.llc, float)
    row = {"params": int(training.num_params), "checkpoints": len(ckpts), "train_s": train_s, "calibrate_s": calib_s,
           "first_s": runs[0], "again_s": runs[1], "s_per_ckpt_first": runs[0] / len(ckpts),
           "s_per_ckpt_again": runs[1] / len(ckpts), "step_size": step, "llc_min": float(llc.min()),
           "llc_max": float(llc.max()), "llc_last": float(llc[-1]), "draws": cfg["icl_draws"],
           "batch": cfg["icl_batch"], "n": cfg["icl_n"], "size": cfg["icl_size"],
           "llcs": [float(v) for v in llc], "training_steps": [int(training.steps[i]) for i in pick]}
    say(f"icl {row['params']:,} params x {row['checkpoints']} checkpoints: {row['s_per_ckpt_first']:.2f} s/ckpt "
        f"first, {row['s_per_ckpt_again']:.2f} s/ckpt again")
    return {"rows": [row]}


# ---------------------------------------------------------------------------------------------------- peers
CANONICAL_CHILD = r"""
import json, logging, sys, time
import numpy as np, torch
if not torch.cuda.is_available():
    print(json.dumps({"skipped": f"torch {torch.__version__} sees no CUDA device"})); sys.exit(0)
from torch.utils.data import DataLoader, TensorDataset
from canonical_interp import LLCEstimator
import importlib.metadata as md
logging.getLogger("canonical_interp").setLevel(logging.ERROR)
torch.set_float32_matmul_precision("high")  # TF32 matmuls, as XLA's default precision on this GPU
cfg = json.loads(sys.argv[2])
d = np.load(sys.argv[1])
X, y = torch.tensor(d["X"]), torch.tensor(d["y"])
widths = [int(w) for w in d["widths"]]
layers = [torch.nn.Linear(widths[i], widths[i + 1], bias=False) for i in range(len(widths) - 1)]
model = torch.nn.Sequential(*layers)
with torch.no_grad():
    for i, layer in enumerate(layers):
        layer.weight.copy_(torch.tensor(d[f"W{i}"]))
loader = DataLoader(TensorDataset(X, y), batch_size=cfg["batch"], shuffle=True)
def run(steps):
    est = LLCEstimator(draws=steps, chains=cfg["chains"], burnin_steps=0, steps_bw_draws=1,
                       learning_rate=cfg["eps"], localization=1.0, nbeta=cfg["nbeta"])
    torch.cuda.synchronize(); t0 = time.perf_counter()
    llc = est.estimate_llc(model, loader, criterion_fn=lambda o, t: 0.5 * ((t - o) ** 2).sum(dim=1).mean(),
                           devices="cuda", seed=0, show_progress=False)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, float(torch.as_tensor(llc).float().mean())
first_s, _ = run(cfg["steps"])
run(2 * cfg["steps"])
(one_s, llc), (two_s, _) = run(cfg["steps"]), run(2 * cfg["steps"])
one_s, two_s = min(one_s, run(cfg["steps"])[0]), min(two_s, run(2 * cfg["steps"])[0])
print(json.dumps(dict(first_s=first_s, call_s=one_s, two_s=two_s, llc=llc, torch=torch.__version__,
                      canonical_interp=md.version("canonical-interp"), gpu=torch.cuda.get_device_name(0))))
"""


def canonical_side(case, cfg, eps: float, nbeta: float, budget) -> dict:
    """canonical-interp in a child process on the same problem, or the reason it was not run."""
    missing = [m for m in ("torch", "canonical_interp") if importlib.util.find_spec(m) is None]
    if missing:
        return {"skipped": f"{' and '.join(missing)} not importable from {sys.executable}"}
    if cfg.get("dry"):
        return {"skipped": "dry run (a torch.compile run does not fit the dry run's minute)"}
    widths = case.model_args[2]
    arrays = {"X": np.asarray(case.model_args[0]), "y": np.asarray(case.model_args[1]), "widths": np.array(widths),
              **{k: np.asarray(v) for k, v in case.params.items()}}
    spec = dict(batch=cfg["batch"], chains=CHAINS, eps=eps, nbeta=nbeta, steps=cfg["peers_steps"])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dln.npz")
        np.savez(path, **arrays)
        timeout = max(10.0, budget.left() - 5.0)
        try:
            out = subprocess.run([sys.executable, "-c", CANONICAL_CHILD, path, json.dumps(spec)], capture_output=True,
                                 text=True, timeout=timeout, env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": tmp})
        except subprocess.TimeoutExpired:
            return {"skipped": f"canonical-interp ran past the {timeout:.0f} s left of the budget"}
    if out.returncode:
        last = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
        return {"skipped": "canonical-interp failed: " + last[:200]}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if "skipped" in res:
        return res
    res["note"] = f"torch {res['torch']}, canonical-interp {res['canonical_interp']} on {res['gpu']}"
    marginal = res["two_s"] - res["call_s"] > 0.2 * res["call_s"]
    res["timing"] = "marginal" if marginal else "whole_call"
    res["ms_per_step"] = ((res["two_s"] - res["call_s"]) / cfg["peers_steps"] if marginal
                          else res["two_s"] / (2 * cfg["peers_steps"])) * 1e3
    return res


def part_peers(cfg, budget, state) -> dict:
    w = cfg["dln_widths"][0]
    case, _ = dln_case(w, cfg["n"], state)
    steps = cfg["peers_steps"]
    calib, calib_s = sgld_call(case, steps, cfg["batch"], "auto")  # slt_ppl's automatic step, given to both
    eps, nbeta = float(calib.step_size), float(calib.nbeta)
    t = marginal_step(case, steps, cfg["batch"], eps)
    res, _ = sgld_call(case, steps, cfg["batch"], eps)
    ours = {"tool": "slt_ppl", "first_s": calib_s, "call_s": t["call_s"], "ms_per_step": t["s_per_step"] * 1e3,
            "timing": t["timing"], "llc": float(res.llc), "note": "first call: compilation and the automatic step"}
    say(f"peers slt_ppl: {ours['ms_per_step']:.3f} ms/step, llc {ours['llc']:.4g}")
    theirs = {"tool": "canonical-interp", **canonical_side(case, cfg, eps, nbeta, budget)}
    if "skipped" in theirs:
        theirs["note"] = "skipped: " + theirs["skipped"]
    say("peers canonical-interp: " + (theirs["skipped"] if "skipped" in theirs
                                      else f"{theirs['ms_per_step']:.3f} ms/step, llc {theirs['llc']:.4g}"))
    if "ms_per_step" in theirs:
        theirs["slowdown_vs_slt"] = theirs["ms_per_step"] / ours["ms_per_step"]
    return {"d": case.d, "widths": [w] * 4, "eps": eps, "nbeta": nbeta, "steps": steps, "batch": cfg["batch"],
            "chains": CHAINS, "rows": [ours, theirs]}


# ---------------------------------------------------------------------------------------------------- report
def fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(title: str, cols, rows) -> list:
    """A '## part' section: a title line, a header and one line per row, columns separated by spaces."""
    widths = [max(len(c), *(len(fmt(r.get(c, "-"))) for r in rows)) if rows else len(c) for c in cols]
    lines = [title, "  ".join(c.ljust(wd) for c, wd in zip(cols, widths)).rstrip()]
    lines += ["  ".join(fmt(r.get(c, "-")).ljust(wd) for c, wd in zip(cols, widths)).rstrip() for r in rows]
    return lines


COLUMNS = {
    "peak": ("dtype", "precision", "n", "best_ms", "tflops", "median_tflops"),
    "dln": ("d", "steps", "ms_per_step", "timing", "ms_per_step_whole_call", "gflop_per_step", "tflops", "frac_f32",
            "frac_bf16", "first_call_s", "build_s"),
    "llc": ("d", "n", "r", "estimate", "se", "converged", "theory", "wall_s", "step_size", "draws", "burnin"),
    "icl": ("params", "checkpoints", "s_per_ckpt_first", "s_per_ckpt_again", "first_s", "again_s", "calibrate_s",
            "train_s", "llc_min", "llc_max"),
    "peers": ("tool", "ms_per_step", "timing", "first_s", "call_s", "llc", "slowdown_vs_slt", "note"),
}


def section_title(part: str, res: dict, cfg) -> str:
    if part == "peak":
        return "## peak: jitted jnp.matmul of two N x N matrices, best of the repeats (2 N^3 FLOPs)"
    if part == "dln":
        return (f"## dln: SGLD per step, DLN [w, w, w, w], {res['chains']} chains, batch {res['batch']}, n {res['n']}; "
                "marginal time per step; model FLOPs (forward + backward) / peak")
    if part == "llc":
        return (f"## llc: slt.estimate_llc end to end, {CHAINS} chains, batch {cfg['batch']}, automatic step, "
                "temperature check on; theory = Aoyagi's lambda")
    if part == "icl":
        step = "calibrated at the last checkpoint" if cfg["icl_step"] == "auto" else "fixed"
        return (f"## icl: slt.estimate_llc_trajectory, icl.{cfg['icl_size']}, {CHAINS} chains x {cfg['icl_draws']} "
                f"draws, batch {cfg['icl_batch']}, one step ({step}), "
                "compiled once, batched over the checkpoints")
    return (f"## peers: DLN d = {res['d']:,}, {res['chains']} chains x {res['steps']} steps, batch {res['batch']}, "
            f"eps {res['eps']:.3g}, nbeta {res['nbeta']:.4g}, gamma 1; marginal time per step")


def render(report: dict, cfg) -> str:
    info = report["device"]
    lines = [f"# slt_ppl accelerator benchmark (benchmarks/gpu.py){' DRY RUN' if report['dry_run'] else ''}",
             f"device: {info['device_kind']} ({info['platform']}, {info['device_count']} device(s)); "
             f"jax {info['jax']}, slt_ppl {info['slt_ppl']}, python {info['python']}; {info['date']}",
             f"budget {report['budget_s']:.0f} s, wall {report['wall_s']:.0f} s; "
             f"parts asked: {','.join(report['parts'])}"]
    lines += [f"skipped for time: {s}" for s in report["skipped_for_time"]] or ["skipped for time: nothing"]
    for part in report["parts"]:
        res = report["results"].get(part)
        lines.append("")
        if res is None:
            lines.append(f"## {part}: not run (time budget)")
        elif "error" in res:
            lines.append(f"## {part}: FAILED: {res['error']}")
        else:
            lines += table(section_title(part, res, cfg), COLUMNS[part], res["rows"])
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- main
RUNNERS = {"peak": part_peak, "dln": part_dln, "llc": part_llc, "icl": part_icl, "peers": part_peers}


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on whatever device is present")
    p.add_argument("--budget", type=float, default=480.0, help="seconds for the whole run (default 480)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--out", default=None, help="the text report (json beside it); default "
                   "benchmarks/results/gpu.txt, or a temporary file with --dry-run")
    args = p.parse_args(argv)
    parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        p.error(f"--parts: unknown {unknown}; choose from {','.join(PARTS)}")
    args.parts = [x for x in PARTS if x in parts]
    if args.out is None:
        args.out = os.path.join(tempfile.gettempdir(), "slt_ppl_gpu_dry_run.txt") if args.dry_run else REAL_OUT
    if args.dry_run and os.path.abspath(args.out) == REAL_OUT:
        p.error("--dry-run does not write the real results file; give another --out")
    return args


class OutOfTime(Exception):
    pass


def _out_of_time(signum, frame):
    raise OutOfTime()


def run_parts(args, cfg, budget) -> tuple[dict, bool]:
    """Each part in turn while time is left; an alarm at the end of the budget stops the part under way (between
    compiled chunks) and keeps the rows it had finished."""
    results, state, failed = {}, {}, False
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _out_of_time)
        signal.alarm(max(1, int(math.ceil(budget.left()))))
    for part in args.parts:
        need = cfg["need"].get(part) or cfg[f"{part}_need"]
        if not budget.fits(part, need):
            continue
        say(f"{part} ({budget.left():.0f} s left)")
        state.pop("partial", None)
        try:
            results[part] = RUNNERS[part](cfg, budget, state)
        except OutOfTime:
            budget.skipped.append(f"{part}: stopped at the end of the budget" + (", its finished rows kept" if
                                  state.get("partial", {}).get("rows") else ""))
            if state.get("partial", {}).get("rows"):
                results[part] = state["partial"]
            say(f"{part} stopped at the end of the budget")
        except Exception as exc:  # recorded, and the run goes on to the other parts
            traceback.print_exc()
            results[part] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            failed = True
    if hasattr(signal, "SIGALRM"):
        signal.alarm(0)
    return results, failed


def main(argv=None) -> int:
    args = parse(argv)
    budget = Budget(args.budget)
    cfg = dict(DRY if args.dry_run else REAL, dry=args.dry_run)
    info = device_info()
    say(f"device {info['device_kind']} ({info['platform']}), jax {info['jax']}; parts {','.join(args.parts)}")
    results, failed = run_parts(args, cfg, budget)
    report = {"device": info, "dry_run": args.dry_run, "budget_s": args.budget, "parts": args.parts,
              "wall_s": budget.total - budget.left(), "skipped_for_time": budget.skipped, "results": results,
              "settings": {k: v for k, v in cfg.items() if k != "need"}}
    text = render(report, cfg)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text)
    json_path = (args.out[:-4] if args.out.endswith(".txt") else args.out) + ".json"
    with open(json_path, "w") as fh:
        json.dump(report, fh, indent=1, default=float)
    print("\n" + text, flush=True)
    say(f"wrote {args.out} and {json_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
