"""MQTT topic names."""

from __future__ import annotations

import pytest

from submeter.protocols.errors import PayloadError
from submeter.protocols.mqtt_topics import (
    Topic,
    TopicError,
    TopicKind,
    build_topic,
    check_gateway_matches,
    parse_topic,
    subscription_filter,
)


def test_readings_topic_is_built_from_org_and_gateway() -> None:
    assert build_topic("park-1", "gw-0001", TopicKind.READINGS) == (
        "submeter/park-1/gw-0001/up/readings"
    )


def test_commands_topic_goes_down() -> None:
    assert str(Topic("park-1", "gw-0001", TopicKind.COMMANDS)) == (
        "submeter/park-1/gw-0001/down/commands"
    )


def test_topic_parses_back() -> None:
    assert parse_topic("submeter/park-1/gw-0001/up/acks") == Topic(
        "park-1", "gw-0001", TopicKind.ACKS
    )


@pytest.mark.parametrize(
    "topic",
    [
        "submeter/park-1/gw-0001/up/unknown",
        "other/park-1/gw-0001/up/readings",
        "submeter/park-1/up/readings",
        "submeter/park 1/gw-0001/up/readings",
    ],
)
def test_malformed_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


def test_wildcard_in_gateway_id_is_refused() -> None:
    with pytest.raises(TopicError):
        build_topic("park-1", "+", TopicKind.READINGS)


def test_subscription_covers_all_gateways_of_all_organisations() -> None:
    assert subscription_filter(TopicKind.READINGS) == "submeter/+/+/up/readings"


def test_shared_subscription_for_ingest_workers() -> None:
    assert subscription_filter(TopicKind.EVENTS, share_group="ingest") == (
        "$share/ingest/submeter/+/+/up/events"
    )


def test_payload_gateway_must_match_topic_gateway() -> None:
    with pytest.raises(PayloadError):
        check_gateway_matches(Topic("park-1", "gw-0001", TopicKind.READINGS), "gw-0002")
