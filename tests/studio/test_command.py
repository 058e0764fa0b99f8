"""``python -m zoo.studio``: options checked at start like every command; local and private by default."""

from __future__ import annotations

from zoo.commands import parse_config
from zoo.studio.__main__ import StudioOptions, main


def test_by_default_it_binds_to_this_machine_and_makes_no_share_link():
    options = parse_config("studio", StudioOptions, [])
    assert options.host == "127.0.0.1" and options.share is False and options.runs_dir == "runs"


def test_bad_options_get_one_line_and_exit_code_2(tmp_path, capsys):
    assert main(["port=70000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "port" in err and len(err.strip().splitlines()) == 1
    assert main([f"runs_dir={tmp_path / 'nowhere'}"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["colour=red"]) == 2
    assert "runs_dir" in capsys.readouterr().err  # the options are listed
