"""Nest mappings: loops, tile extents, affine tiles, and the one-line refusals of check()."""

import pytest

from arch.errors import MappingError
from arch.hierarchy import ComputeLevel, Hierarchy, StorageLevel
from mappings.mapping import EinsumShape, gemm_shape
from mappings.nest import LevelMapping, NestMapping, check, keeps, tile_words

SHAPE = EinsumShape("O", {"K": 4, "R": 3, "P": 16},
                    {"W": ("K", "R"), "I": ("R", "P"), "O": ("K", "P")}, "O", {"mac": 192},
                    {"I": (((1, "R"), (1, "P")),)})
HIER = Hierarchy("h", (StorageLevel("DRAM"), StorageLevel("Buf", size_words=128),
                       StorageLevel("RF", fanout_x=4, size_words=16)), ComputeLevel("MAC"))


def nest(buf=(("P", 4),), rf=(("R", 3), ("P", 4)), spread=(("K", 4),), rf_keep=None):
    return NestMapping((LevelMapping("DRAM"), LevelMapping("Buf", buf, spatial_x=spread),
                        LevelMapping("RF", rf, keep=rf_keep)))


def test_loops_outermost_first_and_extents():
    n = nest()
    assert [(lp.rank, lp.factor, lp.level, lp.kind) for lp in n.loops()] == [
        ("P", 4, 1, "temporal"), ("K", 4, 1, "x"), ("R", 3, 2, "temporal"), ("P", 4, 2, "temporal")]
    assert n.extents(2) == {"R": 3, "P": 4}
    assert n.extents(1) == {"P": 16, "K": 4, "R": 3}
    check(n, SHAPE, HIER)


def test_affine_tile_and_default_projection():
    assert tile_words(SHAPE, "I", {"R": 3, "P": 4}) == 6  # p+r over 4 and 3 values: 0..5
    g = gemm_shape(8, 4, 2)
    assert g.projections is None
    assert g.projection("A") == (((1, "M"),), ((1, "K"),))
    assert tile_words(g, "A", {"M": 2, "K": 2}) == g.words("A", {"M": 2, "K": 2}) == 4


def test_keeps():
    assert keeps(nest(rf_keep={"O"}), "W") == [0, 1]
    assert keeps(nest(rf_keep={"O"}), "O") == [0, 1, 2]


@pytest.mark.parametrize("kwargs,message", [
    ({"buf": (("P", 2),)}, "rank P: factors multiply to 8 (Buf 2 x RF 4), not its size 16"),
    ({"spread": (("K", 2), ("P", 2)), "buf": (("P", 2),)}, "rank K: factors multiply to 2 (Buf 2), not its size 4"),
    ({"rf": (("R", 3), ("P", 16)), "buf": ()},
     "level RF: tiles need 37 words (W 3, I 18, O 16), over its capacity of 16"),
    ({"rf_keep": {"Z"}}, "level RF: keeps unknown tensor 'Z' (tensors: W, I, O)"),
])
def test_check_refuses_with_one_line(kwargs, message):
    with pytest.raises(MappingError) as err:
        check(nest(**kwargs), SHAPE, HIER)
    assert str(err.value) == message


def test_check_refuses_spatial_over_the_fanout_and_a_homeless_tensor():
    over = NestMapping((LevelMapping("DRAM"), LevelMapping("Buf", (("P", 2),), spatial_x=(("K", 4), ("P", 2))),
                        LevelMapping("RF", (("R", 3), ("P", 4)))))
    with pytest.raises(MappingError) as err:
        check(over, SHAPE, HIER)
    assert str(err.value) == "level Buf: spatial X factors multiply to 8, over the fan-out of 4 to RF"
    homeless = NestMapping((LevelMapping("DRAM", keep={"W", "I"}),) + nest().levels[1:])
    with pytest.raises(MappingError) as err:
        check(homeless, SHAPE, HIER)
    assert str(err.value) == ("level DRAM: bypasses O, which then has no home (the outermost level must keep "
                              "every tensor)")
