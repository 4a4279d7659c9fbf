"""Finding DL/T 645 and CJ/T 188 frames in a byte stream."""

from __future__ import annotations

from decimal import Decimal

from submeter.protocols import cjt188, dlt645

G2 = bytes.fromhex("68 12 90 78 56 34 12 68 91 08 33 33 34 33 89 67 45 33 54 16")
G21 = bytes.fromhex("68 12 90 78 56 34 12 68 9C 00 22 16")
N1 = bytes.fromhex("68 34 12 00 00 00 00 68 11 04 33 33 33 33 B2 16")
WATER_READ = bytes.fromhex("68 10 78 56 34 12 00 00 00 01 03 90 1F 00 3F 16")


def test_one_complete_frame_is_returned_decoded() -> None:
    framer = dlt645.Dlt645StreamFramer()
    assert framer.feed(G2) == [dlt645.decode_frame(G2)]
    assert framer.pending == b""


def test_frame_split_over_many_feeds_comes_out_once_complete() -> None:
    framer = dlt645.Dlt645StreamFramer()
    frames = [frame for byte in G2 for frame in framer.feed(bytes([byte]))]
    assert frames == [dlt645.decode_frame(G2)]


def test_partial_tail_is_kept_for_the_next_feed() -> None:
    framer = dlt645.Dlt645StreamFramer()
    assert framer.feed(G2 + G21[:5]) == [dlt645.decode_frame(G2)]
    assert framer.pending == G21[:5]
    assert framer.feed(G21[5:]) == [dlt645.decode_frame(G21)]


def test_garbage_and_preamble_between_frames_are_skipped() -> None:
    framer = dlt645.Dlt645StreamFramer()
    stream = b"\x00\x01garbage" + b"\xfe" * 4 + G2 + b"\x16\x33" + G21
    assert framer.feed(stream) == [dlt645.decode_frame(G2), dlt645.decode_frame(G21)]


def test_frame_with_bad_checksum_is_skipped() -> None:
    framer = dlt645.Dlt645StreamFramer()
    assert framer.feed(N1 + G21) == [dlt645.decode_frame(G21)]


def test_stray_start_byte_claiming_a_long_frame_does_not_stall_the_stream() -> None:
    framer = dlt645.Dlt645StreamFramer()
    fake_header = bytes.fromhex("68 00 00 00 00 00 00 68 11 FF")
    assert framer.feed(fake_header + G2) == [dlt645.decode_frame(G2)]


def test_start_byte_inside_garbage_is_not_mistaken_for_a_frame() -> None:
    framer = dlt645.Dlt645StreamFramer()
    assert framer.feed(b"\x68\x01\x02" + G21) == [dlt645.decode_frame(G21)]
    assert framer.pending == b""


def test_many_frames_in_one_feed_come_out_in_order() -> None:
    replies = [
        dlt645.encode_read_reply("00000000000" + str(n), "00010000", Decimal(n)) for n in range(5)
    ]
    framer = dlt645.Dlt645StreamFramer()
    frames = framer.feed(b"".join(replies))
    assert [frame.address[-1] for frame in frames] == ["0", "1", "2", "3", "4"]


def test_cjt188_framer_finds_frames_behind_preamble_and_garbage() -> None:
    framer = cjt188.Cjt188StreamFramer()
    frames = framer.feed(b"\xfe\xfe\x00" + WATER_READ[:6])
    frames += framer.feed(WATER_READ[6:] + b"\xfe\xfe" + WATER_READ)
    assert frames == [cjt188.decode_frame(WATER_READ)] * 2
