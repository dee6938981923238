"""The cascade mapping format: round trip, key-path errors, and the one-line refusals of
mappings that cannot run (unit lacking an operator, capacity, tiles that do not meet, an
iterative rank unrolled)."""

import pytest
import yaml

from arch.errors import MappingError
from arch.registry import load_arch
from mappings import library, parse
from mappings.cascade_mapping import dump, from_dict, load, loads, shipped_names
from mappings.cascade_plan import plan, recurrences
from mappings.library_layers import layer

SPEC = load_arch("fusemax", {})
ATT1 = {"M": 4096, "P": 4096, "E": 64, "F": 64, "M0": 256}


def test_round_trip_of_every_shipped_mapping():
    assert {"fusemax", "attention-1pass-fused"} <= set(shipped_names())
    for name in shipped_names():
        m = load(name)
        assert loads(dump(m)) == m
        assert from_dict(yaml.safe_load(dump(m))) == m


def test_round_trip_keeps_every_field():
    m = from_dict({"cascade": "c", "op_issue": "functional_units", "einsums": {"Z": {"unit": "pe2d", "spatial": [["M", 4]],
                   "levels": {"glb": {"tiles": {"M": 8}, "keep": ["A"], "bypass": ["B"]}}, "loop_order": ["M", "N", "K"]}},
                   "fusion": [{"einsums": ["Z"], "buffer": "glb", "loops": [["M", 8]], "slots": 2, "stages": {"Z": 1}}]})
    assert loads(dump(m)) == m and loads(dump(m)).op_issue == "functional_units"
    assert m.of("Z").keeps("glb", "A") and not m.of("Z").keeps("glb", "B")
    c = from_dict({"accounting": {"register_files": "one_pe"}, "einsums": {"Z": {"unit": "pe2d"}, "Y": {"unit": "pe1d"}},
                   "fusion": [{"einsums": ["Z", "Y"], "buffer": "glb", "slots": 2, "capacity_slots": 1,
                               "sync": [["Z"], ["Y"]]}]})
    back = loads(dump(c))
    assert back == c and back.register_files == "one_pe"
    assert back.fusion[0].sync == (("Z",), ("Y",)) and back.fusion[0].counted_slots == 1


@pytest.mark.parametrize("data,message", [
    ({}, "x.yaml: einsums: is required"),
    ({"einsums": {"Z": {"spatial": []}}}, "x.yaml: einsums.Z.unit: is required"),
    ({"einsums": {"Z": {"unit": "pe2d", "tile": {}}}}, "x.yaml: einsums.Z.tile: unknown key (allowed: unit, spatial, levels, loop_order, sparse)"),
    ({"einsums": {"Z": {"unit": "pe2d", "spatial": [["M", 0]]}}}, "x.yaml: einsums.Z.spatial[0][1]: must be an integer >= 1, not 0"),
    ({"einsums": {"Z": {"unit": "pe2d", "levels": {"glb": {"keep": ["A"], "bypass": ["A"]}}}}},
     "x.yaml: einsums.Z.levels.glb.bypass: tensor 'A' is both kept and bypassed"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z"]}]}, "x.yaml: fusion[0].buffer: is required"),
    ({"einsums": {}, "op_issue": "parallel"}, "x.yaml: op_issue: must be one of serial, functional_units, not 'parallel'"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z"], "buffer": "glb", "slots": 0}]}, "x.yaml: fusion[0].slots: must be an integer >= 1, not 0"),
    ({"einsums": {}, "accounting": {"register_files": "some_pe"}},
     "x.yaml: accounting.register_files: must be one of every_pe, one_pe, not 'some_pe'"),
    ({"einsums": {}, "accounting": {"registers": "one_pe"}}, "x.yaml: accounting.registers: unknown key (allowed: register_files)"),
    ({"einsums": {}, "accounting": "one_pe"}, "x.yaml: accounting: must be a mapping, not 'one_pe'"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z"], "buffer": "glb", "sync": "Z"}]},
     "x.yaml: fusion[0].sync: must be a list of lists of names, not 'Z'"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z", "Y"], "buffer": "glb", "sync": [["Z"], ["Z", "Y"]]}]},
     "x.yaml: fusion[0].sync[1][0]: einsum 'Z' is in more than one set"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z"], "buffer": "glb", "sync": [[]]}]},
     "x.yaml: fusion[0].sync[0]: must name at least one einsum, not []"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z"], "buffer": "glb", "sync": [["Z", 3]]}]},
     "x.yaml: fusion[0].sync[0][1]: must be a name, not 3"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z"], "buffer": "glb", "slots": 2, "capacity_slots": 3}]},
     "x.yaml: fusion[0].capacity_slots: must be at most slots (2), not 3"),
    ({"einsums": {}, "fusion": [{"einsums": ["Z"], "buffer": "glb", "slots": 2, "capacity_slots": 0}]},
     "x.yaml: fusion[0].capacity_slots: must be an integer >= 1, not 0"),
])
def test_malformed_documents_name_the_key_path(data, message):
    with pytest.raises(MappingError) as err:
        from_dict(data, "x.yaml")
    assert str(err.value) == message


def test_duplicate_yaml_keys_are_refused():
    with pytest.raises(MappingError, match="duplicate key"):
        loads("einsums:\n  Z: {unit: pe2d}\n  Z: {unit: pe1d}\n", "d.yaml")


def _gemm(unit="pe2d", **extra):
    return from_dict({"einsums": {"Z": {"unit": unit, **extra}}})


def test_unit_lacking_an_operator_is_one_line():
    c = parse("rank N\nY[n] = X[n] / Z[n]")
    with pytest.raises(MappingError) as err:
        plan(c, {"N": 8}, from_dict({"einsums": {"Y": {"unit": "pe2d"}}}), SPEC)
    assert str(err.value) == "einsum 'Y': unit 'pe2d' lacks operator 'div' (it has: mac, mul, add, sub, max, exp)"


def test_capacity_exceeded_names_group_and_level():
    # 2048 x 2048 x 2048 GEMM untiled: A, B and Z tiles of 2048^2 words x 2 bytes, double
    # buffered: 6 * 8 MiB = 48 MiB > 16 MiB of glb.
    with pytest.raises(MappingError) as err:
        plan(library.gemm(), {"M": 2048, "N": 2048, "K": 2048}, _gemm(), SPEC)
    assert str(err.value) == f"einsum 'Z': tiles at level 'glb' need {6 * 2048 * 2048 * 2:g} bytes at once but it holds 16777216"


def test_iterative_rank_unrolled_spatially_is_refused():
    m = from_dict({"einsums": {n: {"unit": "pe1d", "spatial": [["T", 256]] if n == "H" else []}
                               for n in ("AB", "BX", "H", "Y")}})
    with pytest.raises(MappingError) as err:
        plan(layer("mamba-scan"), {"T": 4096, "D": 1, "N": 1}, m, SPEC)
    assert str(err.value) == ("einsum 'H': iterative rank 'T' is unrolled spatially on unit 'pe1d': "
                              "its steps depend on each other and run one after another")


def test_tiles_that_do_not_meet_are_refused():
    c = parse("rank M, N\nB[m,n] = A[m,n] * 2\nC[m,n] = B[m,n] + 1")
    m = from_dict({"einsums": {"B": {"unit": "pe1d", "levels": {"glb": {"tiles": {"N": 4}}}},
                               "C": {"unit": "pe1d", "levels": {"glb": {"tiles": {"N": 6}}}}},
                   "fusion": [{"einsums": ["B", "C"], "buffer": "glb", "loops": [["M", 1]]}]})
    with pytest.raises(MappingError) as err:
        plan(c, {"M": 4, "N": 12}, m, SPEC)
    assert str(err.value) == ("fusion group ['B', 'C']: tiles of tensor 'B' do not meet at level 'glb': einsum 'C' "
                              "reads 6 along axis 1 (n), not a whole number of einsum 'B''s tiles of 4")
    ok = from_dict({"einsums": {"B": {"unit": "pe1d", "levels": {"glb": {"tiles": {"N": 4}}}},
                                "C": {"unit": "pe1d", "levels": {"glb": {"tiles": {"N": 12}}}}},
                    "fusion": [{"einsums": ["B", "C"], "buffer": "glb", "loops": [["M", 1]]}]})
    (g,) = plan(c, {"M": 4, "N": 12}, ok, SPEC)
    assert g.iterations == 4


def test_stages_against_the_data_flow_and_too_few_slots():
    c = parse("rank M\nB[m] = A[m] * 2\nC[m] = B[m] + 1")
    base = {"einsums": {"B": {"unit": "pe1d"}, "C": {"unit": "pe1d"}}}
    back = from_dict({**base, "fusion": [{"einsums": ["B", "C"], "buffer": "glb", "loops": [["M", 1]], "stages": {"B": 1}}]})
    with pytest.raises(MappingError, match="einsum 'C' at stage 0 reads tensor 'B' produced at the later stage 1"):
        plan(c, {"M": 8}, back, SPEC)
    few = from_dict({**base, "fusion": [{"einsums": ["B", "C"], "buffer": "glb", "loops": [["M", 1]], "stages": {"C": 1}}]})
    with pytest.raises(MappingError, match="tensor 'B' passes from stage 0 to 1 at level 'glb', which needs 2 slots, not 1"):
        plan(c, {"M": 8}, few, SPEC)


def test_unknown_unit_rank_and_level_are_named():
    with pytest.raises(MappingError, match="einsum 'Z': unit 'gpu' is not a compute unit of the spec"):
        plan(library.gemm(), {"M": 8, "N": 8, "K": 8}, _gemm("gpu"), SPEC)
    with pytest.raises(MappingError, match="einsum 'Z': spatial rank 'Q' is not a rank of the Einsum"):
        plan(library.gemm(), {"M": 8, "N": 8, "K": 8}, _gemm(spatial=[["Q", 2]]), SPEC)
    with pytest.raises(MappingError, match="einsum 'Z': level 'rf1d' is not a buffer of unit 'pe2d'"):
        plan(library.gemm(), {"M": 8, "N": 8, "K": 8}, _gemm(levels={"rf1d": {"tiles": {"M": 1}}}), SPEC)


def test_recurrences_of_the_one_pass_cascade():
    # Derived by hand from docs/cascades.md: RM reads itself; SPD reads RD[m1] and RD reads SPD;
    # SPNV reads RNV[m1] and RNV reads SPNV.
    assert recurrences(library.attention(1)) == [("RM",), ("SPD", "RD"), ("SPNV", "RNV")]
    assert recurrences(library.gemm()) == []


def test_a_tensor_kept_in_registers_must_fit_them():
    # SPNV[f,m1,p] for 1024 queries and F = 64: 65536 words; RNV reads it in SPNV's stage,
    # so one copy: over 256 1D PEs, 256 words = 512 bytes per PE; rf1d holds 64 bytes
    # (arch/presets/fusemax.yaml).
    data = load("fusemax").to_dict()
    data["fusion"][0]["loops"] = [["B", 1], ["H", 1], ["P", 1024], ["M1", 1]]
    data["einsums"]["SPNV"]["levels"] = {"glb": {"bypass": ["SPNV"]}}
    data["einsums"]["RNV"]["levels"] = {"glb": {"bypass": ["SPNV"]}}
    shape = {"B": 1, "H": 1, "M": 2048, "P": 2048, "E": 64, "F": 64, "M0": 256}
    with pytest.raises(MappingError) as err:
        plan(library.attention(1, batch=True), shape, from_dict(data), SPEC)
    assert str(err.value).endswith("tensor 'SPNV' of einsum 'SPNV' bypasses the buffer but needs 512 bytes per PE "
                                   "at level 'rf1d', which holds 64")


def _chain(**group):
    # B = A * 2, C = B + 1, D = C * C: B and C passed inside the group, each a 1 x 1024 tile
    c = parse("rank M, N\nB[m,n] = A[m,n] * 2\nC[m,n] = B[m,n] + 1\nD[m,n] = C[m,n] * C[m,n]")
    m = from_dict({"einsums": {n: {"unit": "pe1d", "spatial": [["N", 256]]} for n in "BCD"},
                   "fusion": [{"einsums": ["B", "C", "D"], "buffer": "glb", "loops": [["M", 1]], "slots": 2, **group}]})
    (g,) = plan(c, {"M": 8, "N": 1024}, m, SPEC)
    return g


def test_in_place_holds_the_largest_passed_tile_not_their_sum():
    words, word_bytes, slots = 1024, 2, 2
    io = 2 * words * word_bytes * 2                 # A loaded and D stored, double buffered
    assert _chain().held_bytes == io + 2 * slots * words * word_bytes          # B and C
    assert _chain(in_place=True).held_bytes == io + slots * words * word_bytes  # one region


def test_in_place_must_be_a_bool():
    with pytest.raises(MappingError) as err:
        from_dict({"einsums": {}, "fusion": [{"einsums": ["Z"], "buffer": "glb", "in_place": "yes"}]}, "x.yaml")
    assert str(err.value) == "x.yaml: fusion[0].in_place: must be true or false, not 'yes'"


def test_a_bypassed_input_streams_in_every_time_its_reader_runs():
    # Z[m,n] = A[m,k] B[k,n] under loops M (outer), N: B's tile changes with N only. Kept, it
    # is loaded once per N step (4 of them for each of the 2 M steps: every iteration); A's
    # tile changes with M, so kept it is loaded every 4 iterations, bypassed every iteration.
    def loads(bypass):
        m = from_dict({"einsums": {"Z": {"unit": "pe2d", "spatial": [["M", 256], ["N", 256]],
                                         "levels": {"glb": {"tiles": {"M": 256, "N": 256}, "bypass": bypass}},
                                         "loop_order": ["M", "N", "K"]}}})
        (g,) = plan(library.gemm(), {"M": 512, "N": 1024, "K": 64}, m, SPEC)
        return {t.tensor: t.every for t in g.transfers if t.kind == "load"}
    assert loads([]) == {"A": 4, "B": 1}
    assert loads(["A"]) == {"A": 1, "B": 1}
