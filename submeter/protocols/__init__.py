"""Meter protocol codecs: bytes in, typed values out, and back. Nothing here imports Django.

- `dlt645`: DL/T 645-2007 frames, data identifiers, read/write, relay 1CH, broadcast time.
- `cjt188`: CJ/T 188-2004 water meters: 901F readings, valve control, read address.
- `modbus_maps`: Modbus register maps as data, words ↔ Decimals.
- `mqtt_topics`, `mqtt_payloads`: MQTT topics and JSON payloads (schemas in `*.schema.json`).
- `stream_framer`: frames out of a TCP or serial byte stream.
- `errors`: the one exception hierarchy (`ProtocolError` and its subclasses).

See docs/protocols.md and docs/mqtt.md.
"""
