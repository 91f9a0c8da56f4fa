"""The CLI entry point: bad input ends in one clear line and an exit code, never a traceback."""
import pytest

from spinewise import cli


def test_unknown_log_level_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--log-level", "loud", "dashboards"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_broken_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt\n")
    assert cli.main(["--config", str(bad), "coach"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spinewise: configuration error:") and "Traceback" not in err


def test_unwritable_output_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["dashboards", "--out", str(blocker / "sub")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spinewise dashboards:") and "Traceback" not in err


def test_every_command_help_has_a_plain_description():
    from spinewise.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert p.description and "``" not in p.description, name
        assert "``" not in p.format_help(), name
