"""Usage errors read like every other error: one line, ``error: ...``, exit 2."""

from __future__ import annotations

import pytest

from streamer.cli import main


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--bogus"], "No such option '--bogus'. (see 'streamer run --help')"),
        (["runn"], "No such command 'runn'"),
        (["run", "--log-level", "LOUD"], "'LOUD' is not one of"),
        (["run", "--since", "7d"], "--since/--until only apply with --backfill"),
        (["run", "--backfill", "--since", "yesterday"], "'yesterday' is not a date"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert says in err
