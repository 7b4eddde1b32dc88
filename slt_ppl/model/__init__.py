"""The model layer: a user's model (NumPyro program or slt.Likelihood) reduced to a Potential.

    potential.py        Potential: n, w* (unconstrained), per-datum log-likelihoods, log prior
    likelihood.py       slt.Likelihood: any JAX model as a per-example NLL and its data
    numpyro_adapter.py  a NumPyro program reinterpreted by effect handlers (substitute, trace)
    restriction.py      restrict=: a Potential over a chosen subset of the coordinates
    components.py       restrict= by transformer component: "l0h1", "l1 mlp", "embed" (refined LLCs)
    build.py            make_potential / global_potential: the one door from model to Potential
"""

from slt_ppl.model.build import as_float64, global_potential, make_potential
from slt_ppl.model.likelihood import Likelihood, from_likelihood
from slt_ppl.model.numpyro_adapter import from_numpyro, prior_draws
from slt_ppl.model.potential import Potential, check_finite_tree, minibatch_fn
from slt_ppl.model.components import head_names as component_names
from slt_ppl.model.restriction import preview_restriction, resolve_masks, restrict_potential

__all__ = ["Potential", "Likelihood", "from_likelihood", "from_numpyro", "prior_draws", "make_potential",
           "global_potential", "as_float64", "restrict_potential", "preview_restriction", "component_names", "resolve_masks", "check_finite_tree", "minibatch_fn"]
