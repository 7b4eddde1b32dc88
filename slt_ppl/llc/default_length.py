"""Which kernel and how many chains and draws an LLC estimate takes when the user names neither: models that cost little.

The Monte Carlo error of an SGLD estimate of lambda does not fall with the model's size: a two-parameter crossing
K = w1^2 w2^4 / 2 mixes slowest of all. Its posterior lies along arms, narrow where they are stiff (a funnel), and
SGLD's step is set by the stiffest curvature met, so a chain diffuses along an arm by a small fraction of its length
in a run; the default run that suffices for a DLN with thousands of parameters leaves it 10-30% off. For such models
a step costs almost nothing, so the defaults spend more, and on a better kernel.

A model is cheap when both

    d * rows_per_step <= CHEAP_WORK                 (parameters times the data rows a step touches)
    cost(one gradient over those rows) <= CHEAP_STEP_COST

hold, the cost being XLA's count for the lowered program, flops + 50 per transcendental (model/minibatch_cost.py):
counting parameters alone misprices models with a transcendental per row (tanh nets, mixtures). The count is the
same on every machine; where it cannot be had (rows on the host) the parameter rule alone decides.

1. Kernel (cheap_model_kernel): a cheap, full-batch model for which the user named no sampler, no run length, no
   SG-only setting, no step_bias and no observables gets HMC (CHEAP_KERNEL) with its step adapted to an acceptance
   of CHEAP_KERNEL_TARGET = 0.95 (Stan's remedy for funnels: a smaller step reaches into the necks), CHEAP_CHAINS x
   CHEAP_KERNEL_DRAWS draws after as many adaptation steps, with the finite-n check as a second run at n beta / 4.
2. Length (cheap_model_length): a cheap model on which the user named sgld (or set an SG-only setting) but no run
   length gets CHEAP_CHAINS chains and CHEAP_DRAWS draws (and burn-in). The rule is for SGLD (CHEAP_SAMPLERS), the
   kernel it was chosen on; the other kernels keep their lengths (longer rmsprop_sgld chains drift further along
   degenerate directions, where the preconditioner's step no longer fits).

Both rules apply only when the user named none of num_chains, num_draws, num_burnin (a user who names one has
chosen the run). Deterministic: the same model and seed give the same run.

Evidence: the thresholds and lengths were chosen on normal crossings against their exact finite-n values by 2-D /
3-D quadrature (benchmarks/certified_llc.py, benchmarks/holdout_coverage.py) and checked on five crossings they were
not chosen on (benchmarks/cheap_model_length.py); the calibration tables, the kernels compared and the costs of the
models the price rule excludes are in benchmarks/results/cheap_model_length.txt.
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
CHEAP_SAMPLERS = ("sgld",)  # the kernels the length rule applies to (module doc)
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
