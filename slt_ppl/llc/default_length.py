"""Which kernel and how many chains and draws an LLC estimate takes when the user names neither: models that cost little.

The Monte Carlo error of an SGLD estimate of lambda does not fall with the model's size: a two-parameter crossing
K = w1^2 w2^4 / 2 mixes slowest of all. Its posterior lies along arms, narrow where they are stiff (a funnel), and
SGLD's step is set by the stiffest curvature met (about 1e-6 here), so a chain diffuses along an arm by ~1e-3 a
step and never crosses it in a run; the default run that suffices for a DLN with thousands of parameters leaves
it 10-30% off. For such models a step costs almost nothing, so the defaults spend more, and on a better kernel.

1. Kernel (cheap_model_kernel): a cheap, full-batch model for which the user named no sampler, no run length and no
SG-only setting gets HMC (16 leapfrog steps a draw), its step adapted to an acceptance of 0.95 (Stan's remedy for
funnels: a smaller step reaches into the necks), 16 chains x 4000 draws after 4000 adaptation steps, with the
finite-n check as a second run at n beta / 4. Measured on seven crossings (n = 10 000; relative error to the
exact finite-n value by 2-D / 3-D quadrature at (n beta, gamma); session 16, without the finite-n check, whose
second run leaves the main chains as they are):

    kernel, chains x draws             [1,2]   [2,3]   [1,3]   [2,2]  [1,1,1]  [1,1]   [2,1]   within 5%   time
    sgld 16 x 16000 (the last default)  +2.4%   +4.1%   +2.2%   +8.2%   -3.1%   +7.3%  +15.8%    4/7     15-50 s
    hmc 0.8, 16 x 4000, seed 0          -2.9%   -1.5%   -5.6%   +0.7%   -1.8%   -0.8%   -6.8%    5/7     ~23 s
    hmc 0.95, 16 x 4000, seed 0         +8.6%   +1.0%   -4.1%   +0.6%   -0.7%   -0.3%   -2.9%    6/7     ~37 s*
    hmc 0.95, 16 x 4000, seed 1         +0.0%   -0.4%   -4.1%   +1.6%   +0.1%   +5.4%   +2.8%    6/7     ~22 s

(* sharing the CPU.) The two misses at 0.95 carry an MCSE of 0.015-0.019 and lie within 2 of it; [1,3], the
sharpest funnel (w1^2 w2^6), reads -4.1% at both seeds with an MCSE of 0.002: the necks are still under-sampled
by that much, a bias that the finite-n shift in the se covers (held-out: benchmarks/cheap_model_length.py).
NUTS at 0.8 (16 x 2000) read -11.5%, -11.9% and -9.6% on [1,2], [1,3], [1,1,1] and MALA 16 x 8000 -25% on two.

2. Length (cheap_model_length): a cheap model on which the user named sgld (or set an SG-only setting) but no
run length gets 16 chains and 16 000 draws (and burn-in), the first row above; measured on the first five:

    chains x draws        [1,2]     [2,3]     [1,3]     [2,2]     [1,1,1]    time per case
    4 x 8000            -8.9%     +3.5%     -9.8%     +9.7%    +29.4%       6-23 s
    16 x 16000          +2.4%     +4.1%     +2.2%     +8.2%     -3.1%      15-42 s

(4 x 8000 with MCSE 0.010-0.050, 16 x 16000 with 0.006-0.012.) [2,2] keeps a step bias of about kappa / 4 in its
stiffest direction (kappa 0.03 reads it at -1.0%, but then mixes slower: [1,2] -9.1%, [1,1,1] -6.0% at the same
length). SGHMC mixes these arms far faster (4 x 8000: [1,1,1] +0.1%, [2,2] +0.8%) but drifts off on every DLN of
the same benchmark (benchmarks/default_settings.py: +76% to +262%, not converged), so it is no default.

The rule: a model is cheap when d * rows_per_step <= CHEAP_WORK (parameters times data rows a step touches; the
crossings have 2-3 x 10^4; a 5-parameter linear regression at n = 10 000, 5 x 10^4, is regular and precise at the
usual length; the RRRs with m = 2 (8 x 10^4 and up) keep the usual defaults: at 16 x 16 000 draws rrr(2,2,2,1)
took 208 s against 20 s and read 1.901 +/- 0.075 (MCSE 0.028), 5% under lambda = 2 as the multiplicity term
-(m - 1) / log(n beta) = -0.14 of its finite-n value predicts, where 4 x 4000 read 2.28 +/- 0.64; HMC at 0.95,
16 x 4000 read it at 1.849 +/- 0.030, -7.5%, in 457 s against 12 s, session 19: precise, but 40x the time, and
the kernel rule keeps them on sgld). The length rule
is for SGLD, the kernel it was measured on (the other kernels keep their lengths: at 16 x 16 000 rmsprop_sgld read
rrr(3,2,3,1), n = 2000, at 4.08 against lambda = 7/2, +17%, where 4 x 4000 keeps it within 15% of its finite-n
value; its longer chains drift further along the degenerate directions, where its preconditioner's step no longer
fits). Both rules apply only when the user named none of num_chains, num_draws, num_burnin (a user who names one
has chosen the run); the kernel rule also needs no sampler named, full batch, no step_bias and no observables.
Deterministic: the same model and seed give the same run.

A second condition prices what a row costs: d * rows counts parameters, not the work per row, and two cheap-looking
models with a transcendental per row took minutes on the cheap defaults (`slt-ppl validate`, 2026-12-07, 2-core
CPU, sgld at the long length: tanh(H=1) 310 s, the Gaussian mixture 172 s, against 20 s and 19 s at 4 x 8000; with
the HMC kernel of session 16 the mixture took 606 s, which is why that kernel was withdrawn then; the issue's
budget is about twice the earlier time). So a model is cheap only if also one gradient over the rows of a step costs at most
CHEAP_STEP_COST flop-equivalents by XLA's count (model/minibatch_cost.py: flops + 50 per transcendental; the
crossings 2.2e5, linear regression d = 2 2.7e5, tanh(H=1) 8.2e5, the mixture 1.6e6, each at n = 10 000 rows).
The count comes from the lowered program, so it is the same on every machine; where it cannot be had (rows on
the host) the parameter rule alone decides.
"""

from __future__ import annotations

from slt_ppl.samplers import SamplingSettings

__all__ = ["CHEAP_CHAINS", "CHEAP_DRAWS", "CHEAP_SAMPLERS", "CHEAP_STEP_COST", "CHEAP_WORK", "DEFAULT_CHAINS",
           "cheap_model_length", "CHEAP_KERNEL", "CHEAP_KERNEL_DRAWS", "CHEAP_KERNEL_TARGET", "cheap_model_kernel",
           "is_cheap"]

DEFAULT_CHAINS = 4
CHEAP_WORK = 4.0e4  # parameters x rows per step at or below which a model is cheap
CHEAP_STEP_COST = 4.0e5  # flop-equivalents of one gradient over a step's rows at or below which a model is cheap
CHEAP_CHAINS = 16
CHEAP_DRAWS = 16_000
CHEAP_SAMPLERS = ("sgld",)  # the kernels the rule was measured on (module doc)
CHEAP_KERNEL = "hmc"  # the kernel a cheap, full-batch model gets when no sampler is named (module doc)
CHEAP_KERNEL_DRAWS = 4000  # its draws (and adaptation steps), in CHEAP_CHAINS chains
CHEAP_KERNEL_TARGET = 0.95  # its step adaptation's acceptance target
# the settings that only an SG kernel reads, at their defaults: a user who set one of them asked for SG sampling
SG_DEFAULTS = {"step_size": "auto", "kappa": 0.1, "burnin_step_factor": 4.0, "diagnostic_every": 10,
               "extend_burnin": 1, "burnin_temperature": 1.0}


def cheap_model_length(settings: SamplingSettings, *, d: int, rows_per_step: int,
                       step_cost: float | None = None) -> SamplingSettings:
    """settings with the cheap-model chains and draws (module doc) if the model is cheap; unchanged otherwise.
    step_cost: flop-equivalents of one gradient over rows_per_step rows (model.minibatch_cost.gradient_cost), None
    when not measured. Call it only when the user named none of num_chains, num_draws, num_burnin: a run length
    named is final."""
    if settings.sampler not in CHEAP_SAMPLERS or not is_cheap(d, rows_per_step, step_cost):
        return settings
    return settings._replace(num_chains=max(settings.num_chains, CHEAP_CHAINS),
                             num_draws=max(settings.num_draws, CHEAP_DRAWS),
                             num_burnin=max(settings.num_burnin, CHEAP_DRAWS))


def is_cheap(d: int, rows_per_step: int, step_cost: float | None = None) -> bool:
    """d * rows_per_step <= CHEAP_WORK, and step_cost (None: not measured) <= CHEAP_STEP_COST (module doc)."""
    return d * rows_per_step <= CHEAP_WORK and (step_cost is None or step_cost <= CHEAP_STEP_COST)


def cheap_model_kernel(settings: SamplingSettings, *, d: int, rows_per_step: int, full_batch: bool,
                       step_cost: float | None = None) -> SamplingSettings:
    """settings switched to CHEAP_KERNEL (HMC at target acceptance CHEAP_KERNEL_TARGET, CHEAP_CHAINS chains x
    CHEAP_KERNEL_DRAWS draws after as many adaptation steps) if the model is cheap and full-batch (module doc);
    unchanged otherwise. Call it only when the user named no sampler and no run length; a run whose SG-only settings
    (step_size, kappa, burnin_step_factor, diagnostic_every, extend_burnin, burnin_temperature) differ from their
    defaults stays SG, since they ask for SG sampling."""
    if not (full_batch and is_cheap(d, rows_per_step, step_cost)):
        return settings
    if any(getattr(settings, name) != value for name, value in SG_DEFAULTS.items()):
        return settings
    return settings._replace(sampler=CHEAP_KERNEL, num_chains=max(settings.num_chains, CHEAP_CHAINS),
                             num_draws=CHEAP_KERNEL_DRAWS, num_burnin=CHEAP_KERNEL_DRAWS,
                             target_accept_prob=CHEAP_KERNEL_TARGET)
