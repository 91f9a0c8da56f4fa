"""Decoders against byte vectors from the vendors' documents and reference implementations."""
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spinewise.ingest.profiles import (PROFILES, DecodeError, PolarH10, SpinewiseProfile, Thingy52,
                                       WitMotion, get_profile, recognise)
from spinewise.ingest.profiles import polar, spinewise as swp, thingy, witmotion


# -- WitMotion --------------------------------------------------------------------------------
def test_witmotion_frame_vector():
    # WitMotion BLE 5.0 protocol ("0x55 0x61" packet; acc = raw/32768*16 g, gyro = raw/32768*2000
    # deg/s, angle = raw/32768*180 deg; low byte first). Lying flat: az = 1 g = 0x0800,
    # wz = 0x0100 (15.625 deg/s), yaw = 0x4000 (90 deg), ax = 0xFF00 (-0.125 g).
    raw = bytes.fromhex("5561" "00ff" "0000" "0008" "0000" "0000" "0001" "0000" "0000" "0040")
    f = WitMotion().decode(raw)
    np.testing.assert_allclose(f.acc_g, [[-0.125, 0, 1.0]])
    np.testing.assert_allclose(f.gyro_dps, [[0, 0, 15.625]])
    np.testing.assert_allclose(f.angles_deg, [[0, 0, 90.0]])
    assert f.counter is None and f.sensor_t_s is None


def test_witmotion_rate_command_and_register_reply():
    cmds = WitMotion(50).start_commands()
    assert [c.data.hex() for c in cmds] == ["ffaa6988b5", "ffaa030800"]   # unlock, rate; no flash save
    assert WitMotion(100).start_commands()[1].data.hex() == "ffaa030900"
    assert WitMotion().decode(bytes.fromhex("5571") + bytes(18)) is None


def test_witmotion_round_trip_and_errors():
    raw = witmotion.encode_frame([0.1, -0.2, 0.98], [1.0, 2.0, -3.0]) * 2
    f = WitMotion().decode(raw)
    assert len(f) == 2
    np.testing.assert_allclose(f.acc_g[1], [0.1, -0.2, 0.98], atol=16 / 32768)
    for bad, reason in [(b"", "bad_header"), (b"\x54\x61" + bytes(18), "bad_header"),
                        (b"\x55\x61" + bytes(17), "bad_length")]:
        with pytest.raises(DecodeError) as exc:
            WitMotion().decode(bad)
        assert exc.value.reason == reason


# -- Polar H10 ----------------------------------------------------------------------------------
def _hex(s):
    return bytes.fromhex(s.replace(" ", ""))


def test_polar_start_request_acc_50hz_8g():
    # PMD spec: 02 (start) 02 (ACC) 00 01 <rate u16> 01 01 <16 bits> 02 01 <range u16>
    assert PolarH10(50, 8).start_request().hex() == "0202" "00013200" "01011000" "02010800"
    assert PolarH10(200, 2).start_request().hex() == "0202" "0001c800" "01011000" "02010200"
    assert PolarH10(26).rate_hz == 25.0


def test_polar_raw_type1_vector_from_sdk():
    # polar-ble-sdk AccDataTest "process acc raw data frame type 1": header 02 | 00 94 35 77 00 00 00 00
    # (2 000 000 000 ns) | 01, samples (-9, -1, 999), (-8, -2, 997) mG, ...
    frame = _hex("02 0094357700000000 01 F7FF FFFF E703 F8FF FEFF E503 F9FF FFFF E503")
    f = PolarH10().decode(frame)
    np.testing.assert_allclose(f.acc_g, np.array([[-9, -1, 999], [-8, -2, 997], [-7, -1, 997]]) / 1000)
    assert f.gyro_dps is None
    assert f.sensor_t_s == pytest.approx(2.0) and f.sensor_t_at == -1


def test_polar_compressed_type1_vector_from_sdk():
    # polar-ble-sdk AccDataTest "process acc compressed data type 1": ref (-15, 20, 1008),
    # delta block 06 01 | 7B 0F 08 -> deltas (-5, -3, 0)
    frame = _hex("02 6500000000000000 81 F1FF 1400 F003 06 01 7B 0F 08")
    f = PolarH10().decode(frame)
    np.testing.assert_allclose(f.acc_g * 1000, [[-15, 20, 1008], [-20, 17, 1008]])
    assert f.sensor_t_s == pytest.approx(101e-9)


def test_polar_compressed_type0_vector_from_sdk():
    # polar-ble-sdk AccDataTest "process acc compressed data type 0": factor 2.44e-4, ref (1905, 27376,
    # -29282), 10-bit deltas, 56 samples; sample 1 = ref + (190, -105, -85)
    content = _hex(
        "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF EE 4B "
        "E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3 CE 8B E2 BA "
        "F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03 BF CB E0 C2 EF 32 "
        "B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27 9F 4B DF CA EB C2 F7 F2 "
        "B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B 7F CB DD D2 DF 62 37 F5 B7 D4 "
        "4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B 4F 4B DC DC D3 F2 36 F7 B4 BC DD FD "
        "2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F 1F CB DA E3 C7 A2 76 F9")
    p = PolarH10()
    p.factor = 2.44e-4
    f = p.decode(_hex("02 0094357700000000 80") + content)
    assert len(f) == 57
    np.testing.assert_allclose(f.acc_g[0], np.array([1905, 27376, -29282]) * 2.44e-4)
    np.testing.assert_allclose(f.acc_g[1], np.array([1905 + 190, 27376 - 105, -29282 - 85]) * 2.44e-4)
    assert np.all(np.abs(f.acc_g) <= 8)


def test_polar_encoders_round_trip_and_other_measurements():
    acc = np.random.default_rng(0).normal(0, 0.5, (36, 3))
    for raw in (polar.encode_raw_frame(acc, 10**12), polar.encode_delta_frame(acc, 10**12)):
        f = PolarH10().decode(raw)
        np.testing.assert_allclose(f.acc_g, np.rint(acc * 1000) / 1000)
    assert PolarH10().decode(_hex("00 0000000000000000 00 010203")) is None   # ECG frame: not ours


def test_polar_control_point_responses():
    p = PolarH10()
    assert p.on_control(_hex("F0 02 02 00 00")) is None
    assert p.on_control(_hex("F0 02 02 06 00")) is None          # already streaming
    assert "invalid sample rate" in p.on_control(_hex("F0 02 02 08 00"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_polar_garbage_only_raises_decode_error(raw):
    try:
        PolarH10().decode(b"\x02" + raw)
    except DecodeError:
        pass


# -- Thingy:52 ----------------------------------------------------------------------------------
def test_thingy_raw_vector():
    # Thingy:52 FW docs, motion service raw data: accel Q6.10 (0x0400 = 1 g), gyro Q11.5
    # (0x0020 = 1 deg/s), compass Q12.4, int16 LE
    raw = _hex("0000 0000 0004 2000 C0FF 0000 1000 2000 3000")
    f = Thingy52().decode(raw)
    np.testing.assert_allclose(f.acc_g, [[0, 0, 1.0]])
    np.testing.assert_allclose(f.gyro_dps, [[1.0, -2.0, 0.0]])
    with pytest.raises(DecodeError):
        Thingy52().decode(raw[:-1])


def test_thingy_config_sets_motion_processing_frequency():
    (cmd,) = Thingy52(100).start_commands()
    assert cmd.char_uuid == "ef680401-9b35-4933-9b10-52ffa9740042"
    assert struct.unpack("<HHHHB", cmd.data)[3] == 100
    np.testing.assert_allclose(Thingy52().decode(thingy.encode_raw([0.5, 0, -1], [10, 0, 0])).acc_g, [[0.5, 0, -1]])


# -- spinewise open profile ---------------------------------------------------------------------
def test_spinewise_packet_byte_table():
    # docs/sensors.md byte table: version 1, flags gyro, n=2, acc_fs 8 g, gyro_fs 2000 dps,
    # seq 0x01020304, t_us 1 000 000, then ax ay az gx gy gz int16
    raw = _hex("01 01 02 08 D007 04030201 40420F00"
               "0010 0000 0000 0040 0000 0000"
               "00F0 0000 0000 00C0 0000 0000")
    f = SpinewiseProfile().decode(raw)
    np.testing.assert_allclose(f.acc_g, [[1.0, 0, 0], [-1.0, 0, 0]])
    np.testing.assert_allclose(f.gyro_dps, [[1000.0, 0, 0], [-1000.0, 0, 0]])
    assert f.counter == 0x01020304 and f.sensor_t_s == pytest.approx(1.0) and f.sensor_t_at == 0


def test_spinewise_accel_only_and_errors():
    raw = swp.encode_packet(np.array([[0, 0, 1.0]] * 3), None, seq=7, t_us=5)
    f = SpinewiseProfile().decode(raw)
    assert f.gyro_dps is None and len(f) == 3
    for bad, reason in [(raw[:5], "truncated"), (b"\x02" + raw[1:], "bad_version"),
                        (raw[:-1], "bad_length")]:
        with pytest.raises(DecodeError) as exc:
            SpinewiseProfile().decode(bad)
        assert exc.value.reason == reason


# -- registry -----------------------------------------------------------------------------------
def test_recognition_by_uuid_then_name():
    assert recognise("whatever", [PolarH10.service_uuid.upper()]) is PolarH10
    assert recognise("Polar H10 1234ABCD") is PolarH10
    assert recognise("WT901BLE68") is WitMotion
    assert recognise("Thingy") is Thingy52
    assert recognise("spinewise-back") is SpinewiseProfile
    assert recognise("Mi Band") is None
    assert set(PROFILES) == {"spinewise", "witmotion", "polar_h10", "thingy52"}
    with pytest.raises(ValueError):
        get_profile("nope")
    assert not PolarH10.has_gyro and all(PROFILES[p].has_gyro for p in PROFILES if p != "polar_h10")


@pytest.mark.parametrize("name", sorted(PROFILES))
@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=64))
def test_every_decoder_only_raises_decode_error(name, raw):
    prof = PROFILES[name]()
    prefix = {"witmotion": b"\x55\x61", "polar_h10": b"\x02", "spinewise": b"\x01\x01"}.get(name, b"")
    for data in (raw, prefix + raw):
        try:
            frame = prof.decode(data)
        except DecodeError:
            continue
        if frame is not None:
            assert frame.acc_g.ndim == 2 and frame.acc_g.shape[1] == 3
            assert np.all(np.isfinite(frame.acc_g))
            assert (frame.gyro_dps is None) == (not prof.has_gyro) or frame.gyro_dps is None


def test_rate_choice_per_profile():
    assert SpinewiseProfile(52).rate_hz == 52.0 and SpinewiseProfile(5000).rate_hz == 1000.0
    assert Thingy52(1).rate_hz == 5.0 and Thingy52(104).rate_hz == 104.0
    assert WitMotion(60).rate_hz == 50.0 and PolarH10(130).rate_hz == 100.0


def test_spinewise_haptic_command_and_profiles_without_a_motor():
    from spinewise.ingest.profiles import NUDGE_BUZZ, HapticPattern, get_profile
    from spinewise.ingest.profiles.spinewise import HAPTIC

    (w,) = get_profile("spinewise")().haptic_commands(HapticPattern(3, 250, 100))
    assert (w.char_uuid, w.data, w.response) == (HAPTIC, bytes([1, 3, 250, 0, 100, 0]), True)
    assert get_profile("spinewise")().haptic_commands(NUDGE_BUZZ)[0].data == bytes([1, 2, 200, 0, 150, 0])
    for name in ("polar_h10", "witmotion", "thingy52"):
        assert get_profile(name).haptic_uuid is None and get_profile(name)().haptic_commands(NUDGE_BUZZ) == []
    with pytest.raises(ValueError):
        HapticPattern(0, 200, 100)


def test_spinewise_button_taps():
    from spinewise.ingest.profiles import get_profile

    p = get_profile("spinewise")()
    assert p.decode_button(bytes([1, 2])) == 2 and p.decode_button(bytes([1, 1])) == 1
    for bad in (b"", bytes([1]), bytes([2, 2]), bytes([1, 0]), bytes([1, 2, 0])):
        assert p.decode_button(bad) is None
    assert get_profile("polar_h10").button_uuid is None
