"""Chains are sharded across host devices automatically, with the same numbers as on one device."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    import jax
    import slt_ppl as slt
    from slt_ppl.models import rrr
    from slt_ppl.samplers import runner

    placed = []
    original = runner.shard_chains
    def spy(tree, num_chains):
        out = original(tree, num_chains)
        placed.append(len(jax.tree.leaves(out)[0].sharding.device_set))
        return out
    runner.shard_chains = spy
    case = rrr.make(3, 2, 3, 1, n=1000, seed=0)
    res = slt.estimate_llc(**case.llc_kwargs(), num_chains=4, num_draws=300, num_burnin=100, step_size=1e-4)
    print(json.dumps({{"devices": jax.device_count(), "placed_on": placed, "llc": res.llc_per_chain.tolist()}}))
""")


def _run(devices: int) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    env.pop("PYTEST_CURRENT_TEST", None)
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=ROOT)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_chains_shard_over_two_host_devices_with_identical_numbers():
    one, two = _run(1), _run(2)
    assert one["devices"] == 1 and two["devices"] == 2
    assert set(two["placed_on"]) == {2} and set(one["placed_on"]) == {1}
    # the sharded and the single-device programs are separate XLA compilations: their float32
    # reductions may round differently (seen: 1e-7 relative), so "the same numbers" is to 1e-6
    np.testing.assert_allclose(one["llc"], two["llc"], rtol=1e-6)
