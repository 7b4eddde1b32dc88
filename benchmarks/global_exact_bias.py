"""Per-temperature E_beta[n L_n] of the RLCT ladder against exact quadrature values, one sampler setting.

The settings come from the environment, so that each hypothesis about a bias runs in its own process
(jax_enable_x64 must be set before JAX starts): X64=1 (float64), TA (NUTS/HMC target acceptance),
SEED, DRAWS, BURN, CHAINS, SAMPLER, POWERS (e.g. "1,2"), N, SIG (the signal). Prints, per temperature,
the estimate, the exact value, the MCSE, z and each chain's deviation.

    X64=1 TA=0.95 python benchmarks/global_exact_bias.py
"""
import os
import time
if os.environ.get("X64") == "1":
    import jax; jax.config.update("jax_enable_x64", True)
import numpy as np, jax
from slt_ppl.tempered.exact import ProductRegression, product_data
from slt_ppl.tempered.setup import run_ladder
from slt_ppl.tempered.rlct import rlct_ladder
from slt_ppl.samplers import sampling_settings
from slt_ppl.results import mcse_of_mean
powers = tuple(int(p) for p in os.environ.get("POWERS", "1,2").split(","))
n = int(os.environ.get("N", 3000)); sig = float(os.environ.get("SIG", 0.03))
draws = int(os.environ.get("DRAWS", 4000)); chains = int(os.environ.get("CHAINS", 4))
ta = os.environ.get("TA"); ta = float(ta) if ta else None
seed = int(os.environ.get("SEED", 0)); burn = os.environ.get("BURN"); burn = int(burn) if burn else None
sampler = os.environ.get("SAMPLER", "nuts")
x, y = product_data(n, sig, seed=0)
ex = ProductRegression(x, y, powers)
model, args = ex.numpyro_model()
st = sampling_settings(sampler=sampler, num_chains=chains, num_draws=draws, num_burnin=burn, seed=seed, target_accept_prob=ta, progress_bar=False)
t = time.time()
pot, run = run_ladder(st, model, args, None, lambda n: rlct_ladder(n, 5))
el = time.time() - t
b = run.betas
zs = []
for k, beta in enumerate(b):
    e = ex.mean_nll(beta); m = run.nll[k].mean(); se = mcse_of_mean(run.nll[k])[0]
    pc = run.nll[k].mean(axis=1)
    zs.append((m - e) / se)
    print(f"beta={beta:.4f} est {m:.4f} exact {e:.4f} diff {m-e:+.4f} mcse {se:.4f} z {(m-e)/se:+.1f} chains {np.round(pc-e,3)}")
slope = np.polyfit(1/b, run.nll.mean(axis=(1,2)), 1)[0]
print(f"x64={os.environ.get('X64')} dtype nll {run.nll.dtype} TA={ta} seed={seed} draws={draws} chains={chains} slope {slope:.4f} exact {ex.rlct_slope():.4f} mean z {np.mean(zs):+.2f} time {el:.1f}s step {np.round(run.step_size.mean(axis=1),4)} acc {np.round(run.stats['acceptance'].mean(axis=(1,2)),3) if 'acceptance' in run.stats else ''}")
