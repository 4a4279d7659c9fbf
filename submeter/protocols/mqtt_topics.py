"""MQTT topics: `submeter/<org>/<gateway>/up/readings|events|acks` and `…/down/commands`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from submeter.protocols.errors import PayloadError, ProtocolError

TOPIC_ROOT = "submeter"

IDENTIFIER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
"""Organisation, gateway, meter, message and command ids: no `/`, `+`, `#` or spaces."""


class TopicKind(StrEnum):
    READINGS = "up/readings"
    EVENTS = "up/events"
    ACKS = "up/acks"
    COMMANDS = "down/commands"


@dataclass(frozen=True, slots=True)
class Topic:
    organisation: str
    gateway_id: str
    kind: TopicKind

    def __str__(self) -> str:
        return build_topic(self.organisation, self.gateway_id, self.kind)


class TopicError(ProtocolError):
    code = "topic_error"


def _check_identifier(value: str, what: str) -> None:
    if not IDENTIFIER_PATTERN.fullmatch(value):
        raise TopicError(f"{what} {value!r} is not a valid topic segment")


def build_topic(organisation: str, gateway_id: str, kind: TopicKind) -> str:
    _check_identifier(organisation, "organisation")
    _check_identifier(gateway_id, "gateway id")
    return f"{TOPIC_ROOT}/{organisation}/{gateway_id}/{kind}"


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != TOPIC_ROOT:
        raise TopicError(f"topic {topic!r} is not submeter/<org>/<gateway>/<up|down>/<kind>")
    _, organisation, gateway_id, direction, name = parts
    try:
        kind = TopicKind(f"{direction}/{name}")
    except ValueError:
        raise TopicError(f"topic {topic!r} has an unknown kind {direction}/{name}") from None
    _check_identifier(organisation, "organisation")
    _check_identifier(gateway_id, "gateway id")
    return Topic(organisation, gateway_id, kind)


def subscription_filter(kind: TopicKind, organisation: str = "+", share_group: str = "") -> str:
    """A filter for every gateway of one organisation (or all with `+`). With `share_group`,
    an MQTT 5 shared subscription, so several ingest workers split the stream."""
    if organisation != "+":
        _check_identifier(organisation, "organisation")
    topic_filter = f"{TOPIC_ROOT}/{organisation}/+/{kind}"
    if share_group:
        _check_identifier(share_group, "share group")
        return f"$share/{share_group}/{topic_filter}"
    return topic_filter


def check_gateway_matches(topic: Topic, gateway_id: str) -> None:
    """A payload's gateway id must be the one in its topic (the broker's ACL trusts the topic)."""
    if topic.gateway_id != gateway_id:
        raise PayloadError(
            "gateway_id", f"is {gateway_id!r} but the topic is for gateway {topic.gateway_id!r}"
        )
