"""The Bayesian influence function at scale: memory flat in the draws, and a per-token BIF of 10K x 10K.

Run: .venv/bin/python benchmarks/bif_scale.py [--tokens 10000]   (prints, writes benchmarks/results/bif_scale.{txt,json})

1. Memory against num_draws: estimate_bif on Bayesian linear regression (20 queries x 2000 training
   points, d = 5, 4 chains) at 1e3 and 1e4 draws, each in a fresh process; the peak is the process's
   high-water resident set (VmHWM). The covariances are running sums reduced chunk by chunk, so only the
   LLC's per-draw scalars grow with the draws.
2. Per-token BIF: a character-level bigram language model (embedding 16, softmax over the characters of
   the Python standard library's own source, about 2 300 parameters) trained briefly with optax; the
   posterior covariance of the per-token losses of --tokens query tokens and --tokens training tokens,
   4 chains x 1000 draws after 500 burn-in steps, minibatch 512 for the sampler. Each chunk of draws
   enters the (query x train) sums through one matrix product per chain: no per-draw matrix is formed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MEMORY_CHILD = """
import json, sys, time
import numpy as np
sys.path.insert(0, {root!r})
import slt_ppl as slt
from slt_ppl.models.noise import orthogonal_noise
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 5)); w0 = rng.normal(size=5)
y = X @ w0 + orthogonal_noise(X, (2000,), 1.0, rng)
w = np.linalg.lstsq(X, y, rcond=None)[0]
Xq = rng.normal(size=(20, 5)); yq = Xq @ w0 + rng.normal(size=20)
lik = slt.Likelihood(lambda p, b: 0.5 * (b[1] - b[0] @ p) ** 2, (X, y))
t = time.perf_counter()
res = slt.estimate_bif(lik, w, query=(Xq, yq), num_draws={draws}, num_burnin=500, step_size=2e-4, progress_bar=False)
print(json.dumps({{"draws": {draws}, "seconds": time.perf_counter() - t, "peak_mb": peak_mb(),
                  "influence_bytes": int(res.idata["influence"].nbytes)}}))
"""

TOKEN_CHILD = """
import glob, json, os, sys, time
import numpy as np
sys.path.insert(0, {root!r})
import jax, jax.numpy as jnp, optax
import slt_ppl as slt
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
src = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py")))
text = "".join(open(f, encoding="utf-8", errors="ignore").read() for f in src[:40])
chars = sorted(set(text)); V = len(chars); table = {{c: i for i, c in enumerate(chars)}}
ids = np.array([table[c] for c in text[: 4 * {tokens} + 2]], np.int32)
train = (ids[: 2 * {tokens}], ids[1 : 2 * {tokens} + 1])
query = (ids[2 * {tokens} + 1 : 3 * {tokens} + 1], ids[2 * {tokens} + 2 : 3 * {tokens} + 2])
def nll(p, batch):
    logits = p["emb"][batch[0]] @ p["out"] + p["bias"]
    return -jax.nn.log_softmax(logits)[jnp.arange(batch[0].shape[0]), batch[1]]
key = jax.random.key(0)
p = {{"emb": 0.1 * jax.random.normal(key, (V, 16)), "out": jnp.zeros((16, V)), "bias": jnp.zeros(V)}}
opt = optax.adam(3e-2); state = opt.init(p)
loss = lambda p: jnp.mean(nll(p, (jnp.asarray(train[0]), jnp.asarray(train[1]))))
@jax.jit
def step(p, state):
    g = jax.grad(loss)(p); u, state = opt.update(g, state); return optax.apply_updates(p, u), state
for _ in range(1500):
    p, state = step(p, state)
lik = slt.Likelihood(nll, train)
idx = np.arange({tokens})
t = time.perf_counter()
res = slt.estimate_bif(lik, p, query=query, train_indices=idx, num_draws=1000, num_burnin=500, batch_size=512,
                       progress_bar=False)
seconds = time.perf_counter() - t
cov = res.covariance.values
print(json.dumps({{"tokens_query": int(cov.shape[0]), "tokens_train": int(cov.shape[1]), "vocab": V,
                  "params": int(sum(np.size(x) for x in jax.tree.leaves(p))), "train_loss": float(loss(p)),
                  "seconds": seconds, "peak_mb": peak_mb(), "llc": res.llc, "llc_se": res.llc_se,
                  "draws": res.num_draws, "mean_abs_cov": float(np.mean(np.abs(cov))),
                  "median_se": float(np.median(res.se.values))}}))
"""


def child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000, help="query tokens = training tokens")
    args = parser.parse_args()
    memory = [child(MEMORY_CHILD.format(root=ROOT, draws=d)) for d in (1000, 10_000)]
    tokens = child(TOKEN_CHILD.format(root=ROOT, tokens=args.tokens))
    machine = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, {platform.python_version()}"
    lines = [f"machine: {machine}", "", "memory against num_draws (BIF 20 x 2000, d = 5, 4 chains):"]
    lines += [f"  {m['draws']:>6d} draws: peak RSS {m['peak_mb']:.0f} MB, influence arrays {m['influence_bytes'] / 1e3:.0f} kB,"
              f" {m['seconds']:.1f} s" for m in memory]
    lines += ["", f"per-token BIF: {tokens['tokens_query']} query x {tokens['tokens_train']} training tokens, bigram LM "
              f"({tokens['params']} parameters, vocabulary {tokens['vocab']}, train loss {tokens['train_loss']:.3f})",
              f"  {tokens['draws']} draws in {tokens['seconds']:.1f} s, peak RSS {tokens['peak_mb']:.0f} MB; "
              f"LLC from the same draws {tokens['llc']:.1f} +/- {tokens['llc_se']:.1f}; mean |Cov| "
              f"{tokens['mean_abs_cov']:.3g}, median se {tokens['median_se']:.3g}"]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "bif_scale.txt"), "w") as fh:
        fh.write(text + "\n")
    with open(os.path.join(ROOT, "benchmarks", "results", "bif_scale.json"), "w") as fh:
        json.dump({"machine": machine, "memory": memory, "tokens": tokens}, fh, indent=1)


if __name__ == "__main__":
    main()
