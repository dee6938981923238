"""``python -m rtl`` argument handling that needs neither Verilator nor Yosys."""

import pytest

from rtl import __main__ as cli


@pytest.mark.parametrize("argv, message", [
    (["check", "--lanes", "0", "--rows", "2", "--cols", "2"], "'lanes' must be a positive integer, not 0"),
    (["check", "--lanes", "2", "--rows", "0", "--cols", "2"], "'rows' must be an integer in 1..1024 (max_rows), not 0"),
    (["check", "--lanes", "2", "--rows", "2", "--cols", "9", "--max-cols", "8"],
     "'cols' must be an integer in 1..8 (max_cols), not 9"),
    (["check", "--lanes", "2", "--rows", "2", "--cols", "2", "--max-rows", "0"],
     "'max_rows' must be a positive integer, not 0"),
    (["check", "--lanes", "2", "--rows", "2", "--cols", "2", "--backpressure", "1"],
     "'--backpressure' must be a probability in [0, 1), not 1.0"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"python -m rtl check: {message}\n"


def test_unknown_format_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["check", "--lanes", "2", "--rows", "2", "--cols", "2", "--format", "xml"])
    assert e.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err
