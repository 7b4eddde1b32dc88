"""Throughput of the LLC along a transformer's training: slt_ppl beside devinterp 1.3.2 on a PyTorch twin.

The in-context linear-regression transformer (slt_ppl.models.icl_regression, icl.FULL: about 51K parameters,
the size of arXiv 2402.02364's) is trained briefly; at each measured checkpoint both tools run SGLD with the
same settings: 4 chains x 1000 draws, no burn-in, minibatch `--batch`, the same step size (slt_ppl's automatic
one, calibrated once at the last checkpoint and given to both), localization 1, n beta = n / log n, on the
same data (the checkpoint's self-distilled dataset, icl.likelihood). The PyTorch twin is the same network
written in torch (pre-LN blocks, causal attention, tanh-GELU MLP) with the checkpoint's weights copied in;
its loss at w* is checked against the JAX one before anything is timed.

A run of 100 checkpoints costs one first checkpoint (JAX compilation; torch warm-up) and 99 steady ones, so
each tool measures its first checkpoint and `--steady` more, each in its own process; the projection for 100
is first + 99 x (mean steady). On a 2-core CPU one checkpoint at the full size takes minutes, so 100 are not
run here; the measured per-checkpoint times are the figures. Writes benchmarks/results/icl_throughput.txt.

Setup (once): python3.12 -m venv .venv-devinterp && .venv-devinterp/bin/pip install torch==2.13.0 devinterp==1.3.2
Run: .venv/bin/python benchmarks/icl_throughput.py [--quick] [--draws 1000] [--steady 1] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVINTERP_PY = os.path.join(ROOT, ".venv-devinterp", "bin", "python")

TORCH_CHILD = r"""
import json, math, sys, time
import numpy as np, torch
from torch.utils.data import DataLoader, TensorDataset
from devinterp.optim.sgld import SGLD
from devinterp.slt.sampler import estimate_learning_coeff_with_summary
torch.set_num_threads(2)
d = np.load(sys.argv[1]); cfg = json.loads(sys.argv[2])
D, H, L, dm, dmlp, var = cfg["d_in"], cfg["heads"], cfg["layers"], cfg["d_model"], cfg["d_mlp"], cfg["noise_var"]
hd = dm // H

class Attn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = (torch.nn.Linear(dm, H * hd) for _ in range(3))
        self.o = torch.nn.Linear(H * hd, dm)
    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = (f(x).view(B, T, H, hd).transpose(1, 2) for f in (self.q, self.k, self.v))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        s = s.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), torch.finfo(s.dtype).min)
        return self.o((torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, H * hd))

class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.attn, self.ln2 = torch.nn.LayerNorm(dm, eps=1e-6), Attn(), torch.nn.LayerNorm(dm, eps=1e-6)
        self.fc_in, self.fc_out = torch.nn.Linear(dm, dmlp), torch.nn.Linear(dmlp, dm)
    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc_out(torch.nn.functional.gelu(self.fc_in(self.ln2(x)), approximate="tanh"))

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.pos = torch.nn.Linear(D, dm), torch.nn.Parameter(torch.zeros(cfg["max_len"], dm))
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.ln_f, self.unembed = torch.nn.LayerNorm(dm, eps=1e-6), torch.nn.Linear(dm, 1)
    def forward(self, tokens):
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        for b in self.blocks:
            x = b(x)
        return self.unembed(self.ln_f(x))[:, 0::2, 0]

def load(net, k):
    g = lambda name: torch.tensor(d[f"c{k}/{name}"])
    with torch.no_grad():
        net.embed.weight.copy_(g("embed/kernel").T); net.embed.bias.copy_(g("embed/bias")); net.pos.copy_(g("pos_embed"))
        for i, b in enumerate(net.blocks):
            p = f"block_{i}/"
            for lin, name in ((b.attn.q, "query"), (b.attn.k, "key"), (b.attn.v, "value")):
                lin.weight.copy_(g(p + f"attn/{name}/kernel").reshape(dm, H * hd).T)
                lin.bias.copy_(g(p + f"attn/{name}/bias").reshape(H * hd))
            b.attn.o.weight.copy_(g(p + "attn/out/kernel").reshape(H * hd, dm).T); b.attn.o.bias.copy_(g(p + "attn/out/bias"))
            for ln, name in ((b.ln1, "ln_attn"), (b.ln2, "ln_mlp")):
                ln.weight.copy_(g(p + f"{name}/scale")); ln.bias.copy_(g(p + f"{name}/bias"))
            for lin, name in ((b.fc_in, "fc_in"), (b.fc_out, "fc_out")):
                lin.weight.copy_(g(p + f"{name}/kernel").T); lin.bias.copy_(g(p + f"{name}/bias"))
        net.ln_f.weight.copy_(g("ln_final/scale")); net.ln_f.bias.copy_(g("ln_final/bias"))
        net.unembed.weight.copy_(g("unembed/kernel").T); net.unembed.bias.copy_(g("unembed/bias"))

K = cfg["num_pairs"]
const = 0.5 * K * math.log(2 * math.pi * var)
def evaluate(model, batch):
    tokens, targets = batch
    err = targets - model(tokens)
    return ((err * err).sum(-1) / (2 * var) + const).mean(), {}

tokens = torch.tensor(d["tokens"])
out = []
for i, k in enumerate(cfg["checkpoints"]):
    net = Net(); load(net, k)
    targets = torch.tensor(d[f"targets{k}"])
    with torch.no_grad():
        loss_star = float(evaluate(net, (tokens, targets))[0])
    ref = float(d[f"loss{k}"])
    assert abs(loss_star - ref) < 1e-4 * abs(ref) + 1e-4, ("the twin is not the same network", loss_star, ref)
    loader = DataLoader(TensorDataset(tokens, targets), batch_size=cfg["batch"], shuffle=True)
    t0 = time.perf_counter()
    res = estimate_learning_coeff_with_summary(
        net, loader, evaluate=evaluate, sampling_method=SGLD,
        optimizer_kwargs=dict(lr=cfg["step"], localization=1.0, nbeta=cfg["nbeta"]),
        num_chains=cfg["chains"], num_draws=cfg["draws"], num_burnin_steps=0, num_steps_bw_draws=1,
        seed=0, device="cpu", verbose=False, online=False)
    out.append(dict(checkpoint=k, seconds=time.perf_counter() - t0, llc=float(res["llc/mean"]),
                    llc_std=float(res["llc/std"]), loss_star=loss_star))
    print(json.dumps(out[-1]), file=sys.stderr, flush=True)
print(json.dumps(out))
"""

JAX_CHILD = r"""
import json, sys, time, warnings
sys.path.insert(0, sys.argv[3])
import numpy as np
import slt_ppl as slt
from slt_ppl.models import icl_regression as icl
d = np.load(sys.argv[1]); cfg = json.loads(sys.argv[2])
config = icl.FULL if cfg["size"] == "full" else icl.QUICK
nll = icl.nll_per_example(config)
tree = lambda k: _unflatten({n[len(f"c{k}/"):]: d[n] for n in d.files if n.startswith(f"c{k}/")})
def _unflatten(flat):
    out = {}
    for path, v in flat.items():
        node = out
        *parents, leaf = path.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out
out = []
for k in cfg["checkpoints"]:
    lik = slt.Likelihood(nll, (d["tokens"], d[f"targets{k}"]))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = slt.estimate_llc(lik, tree(k), num_chains=cfg["chains"], num_draws=cfg["draws"], num_burnin=0,
                               step_size=cfg["step"], nbeta=cfg["nbeta"], localization=1.0, batch_size=cfg["batch"],
                               seed=0, extend_burnin=0, diagnostic_every=cfg["diagnostic_every"], progress_bar=False,
                               temperature_check=None)
    out.append(dict(checkpoint=k, seconds=time.perf_counter() - t0, llc=res.llc, llc_std=res.llc_std, se=res.se))
    print(json.dumps(out[-1]), file=sys.stderr, flush=True)
print(json.dumps(out))
"""


def flat_params(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat_params(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = np.asarray(value)
    return out


def child(cmd, label):
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "SLT_PPL_COMPILATION_CACHE": "off"})
    if proc.returncode:
        sys.exit(f"the {label} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="icl.QUICK (4.9K parameters) instead of icl.FULL")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steady", type=int, default=1, help="checkpoints measured after the first")
    parser.add_argument("--train-steps", type=int, default=500)
    parser.add_argument("--with-diagnostic", action="store_true",
                        help="also time slt_ppl with its default MALA-acceptance diagnostic (every 10 steps)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "icl_throughput.txt"))
    args = parser.parse_args(argv)
    if not os.path.exists(DEVINTERP_PY):
        sys.exit(f"no devinterp venv at {DEVINTERP_PY}; see this script's docstring")
    import warnings

    import jax

    import slt_ppl as slt
    from slt_ppl.models import icl_regression as icl

    config = icl.QUICK if args.quick else icl.FULL
    training = icl.train(config, steps=args.train_steps, num_checkpoints=1 + args.steady + 2, n=4096, lr=1e-2)
    ks = list(range(len(training.steps)))[-(1 + args.steady):]
    last = len(training.steps) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe = slt.estimate_llc(icl.likelihood(training, last), training.params[last], batch_size=args.batch,
                                 num_draws=100, num_burnin=100, progress_bar=False)
    n = len(training.data[1])
    nbeta = n / np.log(n)
    arrays = {"tokens": np.asarray(training.data[0])}
    nll = icl.nll_per_example(config)
    for k in ks:
        lik = icl.likelihood(training, k)
        arrays[f"targets{k}"] = np.asarray(lik.data[1])
        arrays[f"loss{k}"] = np.asarray(float(np.mean(nll(training.params[k], lik.data))))
        arrays.update({f"c{k}/{name}": v for name, v in flat_params(training.params[k]).items()})
    tc = config.transformer
    cfg = dict(size="quick" if args.quick else "full", checkpoints=ks, chains=args.chains, draws=args.draws,
               batch=args.batch, step=float(probe.step_size), nbeta=float(nbeta), d_in=config.task_dim + 1,
               heads=tc.num_heads, layers=tc.num_layers, d_model=tc.d_model, d_mlp=tc.d_mlp, max_len=tc.max_len,
               noise_var=config.noise_var, num_pairs=config.num_pairs, diagnostic_every=None)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "icl.npz")
        np.savez(path, **arrays)
        ours = child([sys.executable, "-c", JAX_CHILD, path, json.dumps(cfg), ROOT], "slt_ppl")
        ours_default = child([sys.executable, "-c", JAX_CHILD, path, json.dumps({**cfg, "diagnostic_every": 10}),
                              ROOT], "slt_ppl (default diagnostics)") if args.with_diagnostic else None
        theirs = child([DEVINTERP_PY, "-c", TORCH_CHILD, path, json.dumps(cfg)], "devinterp")

    def projection(runs):
        first, steady = runs[0]["seconds"], [r["seconds"] for r in runs[1:]] or [runs[0]["seconds"]]
        return first, float(np.mean(steady)), first + 99 * float(np.mean(steady))

    lines = [f"LLC throughput along training, in-context regression transformer ({cfg['size']}: "
             f"{training.num_params} parameters, D = {config.task_dim}, K = {config.num_pairs}): {args.chains} chains x "
             f"{args.draws} draws, batch {args.batch} of n = {n}, step {cfg['step']:.3g}, localization 1, "
             f"nbeta = n/log n; {platform.machine()} {os.cpu_count()} CPU cores, jax "
             f"{jax.devices()[0].device_kind} vs devinterp 1.3.2 on torch CPU (2 threads)", "",
             f"{'tool':<34} {'first s':>8} {'steady s':>9} {'100 ckpts (projected) min':>26}   llc per checkpoint"]
    table = [("slt_ppl (no diagnostic)", ours), ("slt_ppl (MALA diagnostic every 10)", ours_default),
             ("devinterp 1.3.2 (torch twin)", theirs)]
    table = [(name, runs) for name, runs in table if runs is not None]
    for name, runs in table:
        first, steady, total = projection(runs)
        llcs = ", ".join(f"{r['llc']:.1f}" for r in runs)
        lines.append(f"{name:<34} {first:>8.1f} {steady:>9.1f} {total / 60:>26.1f}   {llcs}")
    ratio = projection(theirs)[1] / projection(ours)[1]
    lines += ["", f"steady state per checkpoint: devinterp / slt_ppl = {ratio:.2f}x (like for like, no diagnostic); "
              f"checkpoints {[int(training.steps[k]) for k in ks]} of a {args.train_steps}-step run"]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "w") as fh:
        fh.write(text + "\n")
    with open(args.out.replace(".txt", ".json"), "w") as fh:
        json.dump(dict(config=cfg, slt_ppl=ours, slt_ppl_default=ours_default, devinterp=theirs,
                       num_params=training.num_params), fh, indent=1)


if __name__ == "__main__":
    main()
