"""How many chains and draws an LLC estimate takes when the user names neither: more for models that cost little.

The Monte Carlo error of an SGLD estimate of lambda does not fall with the model's size: a two-parameter crossing
K = w1^2 w2^4 / 2 mixes slowest of all (its posterior lies along arms that the chains cross by diffusion at a step
set by the arms' stiff ends; the integrated autocorrelation of the llc trace is hundreds of steps), so the default
run that suffices for a DLN with thousands of parameters leaves it 10-30% off. For such models a step costs
almost nothing, so the defaults spend more of them. Measured (benchmarks/certified_llc.py's crossings, n = 10 000,
sgld at kappa 0.1, the finite-n check on, 2-core CPU; relative error to the quadrature value at (n beta, gamma)):

    chains x draws        [1,2]     [2,3]     [1,3]     [2,2]     [1,1,1]    time per case
    4 x 8000            -8.9%     +3.5%     -9.8%     +9.7%    +29.4%       6-23 s
    16 x 16000          +2.4%     +4.1%     +2.2%     +8.2%     -3.1%      15-42 s

(4 x 8000 with MCSE 0.010-0.050, 16 x 16000 with 0.006-0.012.) The 16 x 16000 row covers every quadrature value
within 2 se; [2,2] keeps a step bias of about kappa / 4 in its stiffest direction (kappa 0.03 reads it at -1.0%,
but then mixes slower: [1,2] -9.1%, [1,1,1] -6.0% at the same length), which the se covers. SGHMC mixes these
arms far faster (4 x 8000: [1,1,1] +0.1%, [2,2] +0.8%) but drifts off on every DLN of the same benchmark
(benchmarks/default_settings.py: +76% to +262%, not converged), so it is not the default for any model.

The rule: a model is cheap when d * rows_per_step <= CHEAP_WORK (parameters times data rows a step touches; the
crossings have 2-3 x 10^4; a 5-parameter linear regression at n = 10 000, 5 x 10^4, is regular and precise at the
usual length; the RRRs with m = 2 (8 x 10^4 and up) keep the usual defaults: at 16 x 16 000 draws rrr(2,2,2,1)
took 208 s against 20 s and read 1.901 +/- 0.075 (MCSE 0.028), 5% under lambda = 2 as the multiplicity term
-(m - 1) / log(n beta) = -0.14 of its finite-n value predicts, where 4 x 4000 read 2.28 +/- 0.64). Then
num_chains -> CHEAP_CHAINS and num_draws = num_burnin -> CHEAP_DRAWS, for SGLD, the kernel it was measured on
(the other kernels keep their lengths: at 16 x 16 000 rmsprop_sgld read rrr(3,2,3,1), n = 2000, at 4.08 against
lambda = 7/2, +17%, where 4 x 4000 keeps it within 15% of its finite-n value; its longer chains drift further along
the degenerate directions, where its preconditioner's step no longer fits), and only when the user named none of
num_chains, num_draws, num_burnin (a user who names one has chosen the run's length). Deterministic: the same
model and seed give the same run.

A second condition prices what a row costs: d * rows counts parameters, not the work per row, and two cheap-looking
models with a transcendental per row took minutes at the long length (`slt-ppl validate`, 2026-12-07, 2-core CPU:
tanh(H=1) 310 s, the Gaussian mixture 172 s, against 20 s and 19 s at 4 x 8000; the issue's budget is about twice
the earlier time). So a model is cheap only if also one gradient over the rows of a step costs at most
CHEAP_STEP_COST flop-equivalents by XLA's count (model/minibatch_cost.py: flops + 50 per transcendental; the
crossings 2.2e5, linear regression d = 2 2.7e5, tanh(H=1) 8.2e5, the mixture 1.6e6, each at n = 10 000 rows).
The count comes from the lowered program, so it is the same on every machine; where it cannot be had (rows on
the host) the parameter rule alone decides.
"""

from __future__ import annotations

from slt_ppl.samplers import SamplingSettings

__all__ = ["CHEAP_CHAINS", "CHEAP_DRAWS", "CHEAP_SAMPLERS", "CHEAP_STEP_COST", "CHEAP_WORK", "DEFAULT_CHAINS",
           "cheap_model_length"]

DEFAULT_CHAINS = 4
CHEAP_WORK = 4.0e4  # parameters x rows per step at or below which a model is cheap
CHEAP_STEP_COST = 4.0e5  # flop-equivalents of one gradient over a step's rows at or below which a model is cheap
CHEAP_CHAINS = 16
CHEAP_DRAWS = 16_000
CHEAP_SAMPLERS = ("sgld",)  # the kernels the rule was measured on (module doc)


def cheap_model_length(settings: SamplingSettings, *, d: int, rows_per_step: int,
                       step_cost: float | None = None) -> SamplingSettings:
    """settings with the cheap-model chains and draws (module doc) if the model is cheap; unchanged otherwise.
    step_cost: flop-equivalents of one gradient over rows_per_step rows (model.minibatch_cost.gradient_cost), None
    when not measured. Call it only when the user named none of num_chains, num_draws, num_burnin: a run length
    named is final."""
    if settings.sampler not in CHEAP_SAMPLERS or d * rows_per_step > CHEAP_WORK:
        return settings
    if step_cost is not None and step_cost > CHEAP_STEP_COST:
        return settings
    return settings._replace(num_chains=max(settings.num_chains, CHEAP_CHAINS),
                             num_draws=max(settings.num_draws, CHEAP_DRAWS),
                             num_burnin=max(settings.num_burnin, CHEAP_DRAWS))
