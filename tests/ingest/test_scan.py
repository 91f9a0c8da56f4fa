"""`spinewise scan` output and sensor recognition, without a radio."""
from spinewise import cli
from spinewise.ingest import scan as scan_mod
from spinewise.ingest.profiles import PolarH10, WitMotion


def test_classify_by_uuid_then_name():
    assert scan_mod.classify("AA", "whatever", -50, [PolarH10.service_uuid]).profile == "polar_h10"
    assert scan_mod.classify("AA", "WT901BLE68", -70, []).profile == "witmotion"
    assert scan_mod.classify("AA", None, None, []).profile is None


def test_scan_table_and_config_hint(monkeypatch, capsys):
    found = [scan_mod.classify("C0:11:22:33:44:55", "Polar H10 ABCD", -61, [PolarH10.service_uuid]),
             scan_mod.classify("C0:11:22:33:44:66", "WT901BLE68", -75, [WitMotion.service_uuid]),
             scan_mod.classify("C0:11:22:33:44:77", "Headphones", -40, [])]

    async def fake_scan(timeout_s, adapter):
        assert adapter == "hci9"
        return found
    monkeypatch.setattr(scan_mod, "scan", fake_scan)
    assert cli.main(["scan", "--adapter", "hci9", "--timeout", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line.split(None, 3) for line in out.splitlines()[1:3]]
    assert rows == [["C0:11:22:33:44:55", "-61", "polar_h10", "Polar H10 ABCD"],
                    ["C0:11:22:33:44:66", "-75", "witmotion", "WT901BLE68"]]
    assert "Headphones" not in out
    assert 'profile = "polar_h10"' in out and 'address = "C0:11:22:33:44:55"' in out
    assert cli.main(["scan", "--adapter", "hci9", "--all"]) == 0
    assert "Headphones" in capsys.readouterr().out


def test_gateway_command_refuses_an_empty_config(tmp_path, capsys):
    cfg = tmp_path / "g.toml"
    cfg.write_text("[gateway]\nadapter = \"hci0\"\n")
    assert cli.main(["gateway", "--config", str(cfg)]) == 2
    assert "no [[devices]]" in capsys.readouterr().out
    cfg.write_text('[[devices]]\nid = "x"\nprofile = "fitbit"\n')
    assert cli.main(["gateway", "--config", str(cfg)]) == 2
    assert "unknown profile" in capsys.readouterr().out
