"""SpGEMM on a PIUMA-like machine: inputs, the row-wise hash expansion, six kernels, the DES.

Public API::

    from sim.spgemm import load_mtx, rmat, uniform_random, simulate, expand, KERNELS
    A = load_mtx("tests/data/matrices/karate.mtx")
    res = simulate(A, A, "smash-v3", arch.registry.load_arch("piuma"))
    res.Z            # the product (equals scipy's A @ A)
    res.record()     # cycles, energy_pj, flops, nnz_z, hash_probes, atomics, ...
    low = simulate(A, A, "smash-v3", spec, engine="analytical")   # closed-form lower bound
    low.report.cycles <= res.report.cycles                         # same counts and energy
"""

from sim.spgemm.expand import Expansion, expand
from mappings.spgemm import HASHING, KERNELS
from sim.spgemm.matrices import canonical, load_mtx, rmat, uniform_random
from sim.spgemm.simulate import ENGINES, SpgemmResult, check_shapes, simulate

__all__ = ["Expansion", "expand", "HASHING", "KERNELS", "canonical", "load_mtx", "rmat",
           "uniform_random", "ENGINES", "SpgemmResult", "check_shapes", "simulate"]
