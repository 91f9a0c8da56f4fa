"""From BLE sensor notifications to MQTT messages (docs/sensors.md).

    profiles/     one small class per sensor: GATT UUIDs, start commands, pure decoder -> Frame
    timestamps    TimestampRebuilder: sample times + sequence numbers from sensor counters/clocks
    payload       the versioned MQTT payload (JSON v1 / binary v1): encode, decode, PayloadError
    spool         bounded append-only on-disk FIFO of outgoing messages
    publisher     Publisher: batch -> spool -> MQTT (also used by `spinewise replay`)
    gateway       SensorLink / Gateway: scan, connect, stream, watchdog, reconnect (bleak)
    scan          `spinewise scan`: nearby sensors and the profile each speaks
"""
