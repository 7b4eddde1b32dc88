"""Is Aoyagi's lambda the local coefficient at the Gaussian teachers of benchmarks/certified_llc.py? A lower bound.

At w* the Hessian of K(w) = L_n(w) - L_n(w*) = (1/2) tr((W(w) - W*) S (W(w) - W*)^T) (S = X^T X / n, positive
definite) is J^T (S (x) I) J with J the Jacobian of w -> W(w) = W_L ... W_1, so its rank rho is rank J, and the
local learning coefficient at w* is at least rho / 2 (splitting lemma: rho regular directions, 1/2 each). The
teachers cut the rank in the first layer only, so the dead units' outgoing weights are Gaussian, not zero, and
rho / 2 can exceed Aoyagi's lambda, the smallest coefficient on the whole set of minimisers (attained where those
weights vanish too). The estimator's limit as n beta grows is that smallest one all the same (a Gaussian
localization has full support), and the finite-n estimate moves between the two: llc/temperature_check.py.

Run: .venv/bin/python benchmarks/dln_hessian_rank.py   (float64, DLNs up to 5 000 parameters; about a minute)
Writes benchmarks/results/dln_hessian_rank.txt.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import certified_llc as C
    from slt_ppl.models import dln

    lines = [f"{'case':40s} {'d':>6s} {'lambda':>8s} {'rho/2':>8s}  rho/2 > lambda"]
    for i, (widths, r, _) in enumerate(C.dln_shapes()):
        d = sum(widths[l] * widths[l + 1] for l in range(len(widths) - 1))
        if d > 5000:
            continue
        case = dln.gaussian_teacher(widths, r, seed=i)
        shapes = [np.shape(case.params[f"W{l}"]) for l in range(len(widths) - 1)]

        def product(v, shapes=shapes, widths=widths):
            M, at = jnp.eye(widths[0]), 0
            for s in shapes:
                M = v[at:at + s[0] * s[1]].reshape(s) @ M
                at += s[0] * s[1]
            return M.ravel()

        w0 = jnp.concatenate([jnp.asarray(case.params[f"W{l}"], jnp.float64).ravel() for l in range(len(widths) - 1)])
        sv = np.linalg.svd(np.asarray(jax.jacfwd(product)(w0)), compute_uv=False)
        rho = int(np.sum(sv > 1e-9 * sv.max()))
        lam = float(case.coefficient.lam)
        lines.append(f"{case.name[:40]:40s} {d:6d} {lam:8.1f} {rho / 2:8.1f}  {'yes' if rho / 2 > lam else 'no'}")
        print(lines[-1], flush=True)
    above = sum(line.endswith("yes") for line in lines[1:])
    lines.append(f"rho / 2 > lambda on {above} of {len(lines) - 1} DLNs")
    print(lines[-1])
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "dln_hessian_rank.txt")
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
