"""Mapping validity: binding, operators, spatial factors, tile sizes, buffer fit, fusion."""

import pytest

from arch.errors import MappingError
from arch.registry import load_arch
from mappings import library
from mappings.mapping import (EinsumMapping, EinsumShape, Mapping, check, check_einsum, gemm_shape,
                              shapes_from_cascade)


@pytest.fixture(scope="module")
def fusemax():
    return load_arch("fusemax")


GEMM = gemm_shape(1024, 512, 300)


def ok(**kw):
    base = dict(einsum="Z", unit="pe2d", spatial=(("M", 256), ("N", 256)),
                tiles={"glb": {"M": 512, "N": 512, "K": 300}}, loop_order=("M", "N", "K"))
    base.update(kw)
    return EinsumMapping(**base)


def test_a_valid_mapping_passes(fusemax):
    check_einsum(ok(), GEMM, fusemax)
    # Remainders: 300 = 2 x 128 + 44, 1024 = 3 x 300 + 124; spatial factor below the array size.
    check_einsum(ok(spatial=(("K", 100), ("N", 256)), tiles={"glb": {"M": 300, "K": 128, "N": 256}}), GEMM, fusemax)


@pytest.mark.parametrize(
    "mapping, message",
    [
        (ok(unit="pe3d"), "einsum 'Z': unit 'pe3d' is not a compute unit of the spec (units: pe2d, pe1d)"),
        (ok(spatial=(("M", 512), ("N", 256))),
         "einsum 'Z': spatial factor of rank 'M' on unit 'pe2d' dimension 0 must be between 1 and 256, not 512"),
        (ok(unit="pe1d", spatial=(("M", 256), ("N", 256))),
         "einsum 'Z': 'spatial' must have at most 1 entries for unit 'pe1d', not 2"),
        (ok(spatial=(("Q", 4),)), "einsum 'Z': spatial rank 'Q' is not a rank of the Einsum (ranks: M, N, K)"),
        (ok(tiles={"glb": {"M": 2048}}), "einsum 'Z': tile of rank 'M' at level 'glb' must be between 1 and 1024, not 2048"),
        (ok(tiles={"glb": {"K": 0}}), "einsum 'Z': tile of rank 'K' at level 'glb' must be between 1 and 300, not 0"),
        (ok(tiles={"l2": {"K": 4}}), "einsum 'Z': level 'l2' is not a buffer of unit 'pe2d' (levels: glb, rf2d)"),
        (ok(tiles={"glb": {"M": 1024, "N": 512, "K": 300}, "rf2d": {"K": 8}}),
         "einsum 'Z': tiles at level 'rf2d' need 34 bytes per PE but it holds 20"),  # (8 + 8 + 1) words x 2 B
        (ok(tiles={"glb": {"M": 128, "N": 256, "K": 300}}),
         "einsum 'Z': spatial factor of rank 'M' (256) exceeds its tile at level 'glb' (128)"),
        (ok(loop_order=("M", "K")), "einsum 'Z': 'loop_order' must list every rank once (M, N, K), not M, K"),
    ],
)
def test_invalid_mappings_say_why(fusemax, mapping, message):
    with pytest.raises(MappingError) as err:
        check_einsum(mapping, GEMM, fusemax)
    assert str(err.value) == message


def test_tiles_must_fit_the_global_buffer():
    edge = load_arch("flat-edge")  # 512 KB buffer, 16-bit words
    shape = gemm_shape(1024, 1024, 1024)
    m = EinsumMapping("Z", "pe2d", (("M", 32), ("N", 32)), {"glb": {"M": 256, "N": 256, "K": 256}}, ("M", "N", "K"))
    # 256*256 words each for A, B and Z: 3 * 65536 * 2 bytes = 393216 bytes: fits.
    check_einsum(m, shape, edge)
    m = EinsumMapping("Z", "pe2d", (("M", 32), ("N", 32)), {"glb": {"M": 512, "N": 256, "K": 256}}, ("M", "N", "K"))
    with pytest.raises(MappingError) as err:
        check_einsum(m, shape, edge)
    # (512*256 + 256*256 + 512*256) * 2 = 655360 > 524288
    assert str(err.value) == "einsum 'Z': tiles at level 'glb' need 655360 bytes but it holds 524288"


def test_binding_to_a_unit_without_the_operator(fusemax):
    shape = EinsumShape("AV", {"F": 64, "P": 64}, {"RNV": ("F", "P"), "RD": ("P",), "AV": ("F", "P")}, "AV", {"div": 4096})
    with pytest.raises(MappingError) as err:
        check_einsum(EinsumMapping("AV", "pe2d"), shape, fusemax)
    assert str(err.value) == "einsum 'AV': unit 'pe2d' lacks operator 'div' (it has: mac, mul, add, sub, max, exp)"
    check_einsum(EinsumMapping("AV", "pe1d", (("P", 64),), {"glb": {}}), shape, fusemax)


def test_whole_cascade_mapping_and_fusion(fusemax):
    cascade = library.attention(passes=1, deferred_division=True)
    shapes = shapes_from_cascade(cascade, {"M": 64, "P": 64, "E": 16, "F": 16, "M0": 16})
    one_d = {"RM", "PRM", "SPD", "RD", "SPNV", "RNV", "AV"}  # FuseMax's binding (docs/sources.md#fusemax-mapping)
    ems = [EinsumMapping(n, "pe1d" if n in one_d else "pe2d") for n in shapes]
    mapping = Mapping(ems, fusion=(tuple(shapes),))
    check(mapping, shapes, fusemax)
    with pytest.raises(MappingError, match=r"^einsum 'AV': the mapping does not map it$"):
        check(Mapping(ems[:-1]), shapes, fusemax)
    with pytest.raises(MappingError, match=r"^fusion group \['QK'\]: 'QK' is not an Einsum of the workload$"):
        check(Mapping(ems, fusion=(("QK",),)), shapes, fusemax)
    with pytest.raises(MappingError, match=r"^fusion group \['LM'\]: 'LM' is in more than one group$"):
        check(Mapping(ems, fusion=(("BQK", "LM"), ("LM",))), shapes, fusemax)


def test_fused_group_must_fit_together():
    edge = load_arch("flat-edge")
    a = gemm_shape(256, 256, 256, name="X")  # each alone: 3 * 65536 * 2 = 393216 bytes
    b = EinsumShape("Y", {"M": 256, "N": 256, "K": 256}, {"X": ("M", "K"), "W": ("K", "N"), "Y": ("M", "N")}, "Y",
                    {"mac": 256 ** 3})
    shapes = {"X": a, "Y": b}
    ems = (EinsumMapping("X", "pe2d", (("M", 32), ("N", 32))), EinsumMapping("Y", "pe2d", (("M", 32), ("N", 32))))
    check(Mapping(ems), shapes, edge)
    with pytest.raises(MappingError) as err:
        check(Mapping(ems, fusion=(("X", "Y"),)), shapes, edge)
    assert str(err.value) == "fusion group ['X', 'Y']: tiles at level 'glb' need 786432 bytes together but it holds 524288"


def test_from_dict():
    m = Mapping.from_dict({"einsums": {"Z": {"unit": "pe2d", "spatial": [["M", 256]], "tiles": {"glb": {"K": 64}},
                                             "loop_order": ["K", "M", "N"]}}, "fusion": []})
    assert m.of("Z").spatial == (("M", 256),) and m.of("Z").tiles["glb"]["K"] == 64
    with pytest.raises(MappingError, match=r"^einsum 'Z': unknown key 'bind' \(allowed: loop_order, spatial, tiles, unit\)$"):
        Mapping.from_dict({"einsums": {"Z": {"unit": "pe2d", "bind": 1}}})
    with pytest.raises(MappingError, match=r"^einsum 'Z': 'unit' is required$"):
        Mapping.from_dict({"einsums": {"Z": {}}})
