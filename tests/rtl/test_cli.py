"""``python -m rtl`` argument handling that needs neither Verilator nor Yosys."""

import pytest

from rtl import __main__ as cli


@pytest.mark.parametrize("argv, message", [
    (["check", "--lanes", "2", "--rows", "2", "--cols", "9", "--max-cols", "8"],
     "'cols' must be an integer in 1..8 (max_cols), not 9"),
    (["check", "--lanes", "2", "--rows", "2", "--cols", "2", "--backpressure", "1"],
     "'--backpressure' must be a probability in [0, 1), not 1.0"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"python -m rtl check: {message}\n"


@pytest.mark.parametrize("argv, message", [
    (["check", "--lanes", "0", "--rows", "2", "--cols", "2"], "argument --lanes: must be a positive integer, not '0'"),
    # the case: a TypeError deep in the build before flags were read strictly
    (["check", "--lanes", "99999999999999999999", "--rows", "2", "--cols", "2"],
     "argument --lanes: must be at most 1024, not '99999999999999999999'"),
    (["check", "--lanes", "\u00b2", "--rows", "2", "--cols", "2"], "argument --lanes: must be a positive integer, not '\u00b2'"),
    (["check", "--lanes", "2", "--rows", "0", "--cols", "2"], "argument --rows: must be a positive integer, not '0'"),
    (["check", "--lanes", "2", "--rows", "2", "--cols", "2", "--max-rows", "0"],
     "argument --max-rows: must be a positive integer, not '0'"),
    (["check", "--lanes", "2", "--rows", "2", "--cols", "2", "--backpressure", "nan"],
     "argument --backpressure: must be a non-negative number, not 'nan'"),
    (["synth", "--lanes", "2", "--act-width", "1"], "argument --act-width: must be an integer >= 2, not '1'"),
    (["check", "--lanes", "2", "--rows", "2", "--cols", "2", "--format", "xml"],
     "argument --format: invalid choice: 'xml' (choose from 'json', 'text')"),
])
def test_bad_flags_are_refused_by_the_parser_in_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"python -m rtl {argv[0]}: error: {message}\n"
