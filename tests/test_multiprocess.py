"""Chains split across two local processes with jax.distributed give the single-process numbers."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    import slt_ppl as slt
    pid, port = int(sys.argv[1]), sys.argv[2]
    if pid >= 0:
        slt.distributed.initialize(f"localhost:{{port}}", num_processes=2, process_id=pid)
    import jax
    from slt_ppl.models import rrr
    from slt_ppl.samplers import runner

    placed = []
    original = runner.shard_chains
    def spy(tree, num_chains):
        out = original(tree, num_chains)
        placed.append(sorted({{d.process_index for d in jax.tree.leaves(out)[0].sharding.device_set}}))
        return out
    runner.shard_chains = spy
    case = rrr.make(3, 2, 3, 1, n=1000, seed=0)
    res = slt.estimate_llc(**case.llc_kwargs(), num_chains=4, num_draws=300, num_burnin=100)
    print(json.dumps({{"process": jax.process_index(), "processes": jax.process_count(), "placed": placed,
                      "main": slt.distributed.is_main_process(), "llc": res.llc_per_chain.tolist()}}))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def _result(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_two_processes_split_the_chains_and_agree_with_one_process():
    port = str(_free_port())
    cmd = [sys.executable, "-c", CHILD.format(root=ROOT)]
    procs = [subprocess.Popen(cmd + [str(i), port], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    first, second = (_result(o) for o, _ in outs)
    single = _result(subprocess.run(cmd + ["-1", "0"], env=_env(), capture_output=True, text=True, check=True,
                                    timeout=600).stdout)
    assert first["processes"] == second["processes"] == 2 and single["processes"] == 1
    # the chains live on both processes, in every run of them (a burn-in extension is a second run)
    assert first["placed"] and all(p == [0, 1] for p in first["placed"]) and second["placed"] == first["placed"]
    assert first["main"] and not second["main"]
    assert first["llc"] == second["llc"]  # every process returns the whole, same result
    # separate XLA programs (one per process vs one for all): float32 rounding may differ slightly
    np.testing.assert_allclose(first["llc"], single["llc"], rtol=1e-6)


def test_initialize_refuses_bad_process_numbers():
    import pytest

    import slt_ppl as slt

    with pytest.raises(ValueError, match="num_processes"):
        slt.distributed.initialize("localhost:1", num_processes=0, process_id=0)
    with pytest.raises(ValueError, match="process_id"):
        slt.distributed.initialize("localhost:1", num_processes=2, process_id=2)
