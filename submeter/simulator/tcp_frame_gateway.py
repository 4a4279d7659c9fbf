"""The part of the DL/T 645 and CJ/T 188 TCP gateways that is about sockets.

An asyncio TCP server on `host:port` (port 0: a free one, kept across outages). Each connection
gets its own stream framer; every complete frame is answered (or not) by `answer`, in order.
Garbage and frames with a bad checksum are skipped by the framer and the connection is kept.
During an outage the listening socket and every connection are closed, so clients get
"connection refused"; afterwards the server listens on the same port again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.errors import ProtocolError
from submeter.protocols.stream_framer import StreamFramer
from submeter.simulator.gateway import Gateway

if TYPE_CHECKING:
    from submeter.simulator.simulation import Simulation

logger = logging.getLogger(__name__)

FrameT = TypeVar("FrameT")
READ_SIZE = 4096


class TcpFrameGateway(Gateway, Generic[FrameT]):
    def __init__(
        self,
        simulation: Simulation,
        gateway_id: str,
        meter_addresses: Sequence[str],
        *,
        loop_thread: EventLoopThread,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(simulation, gateway_id, meter_addresses)
        self.loop_thread = loop_thread
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.requests_answered = 0

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def new_framer(self) -> StreamFramer[FrameT]:
        raise NotImplementedError

    def answer(self, frame: FrameT) -> bytes | None:
        """The reply to one frame, or None when a meter would stay silent."""
        raise NotImplementedError

    def start(self) -> None:
        self.loop_thread.run(self._open())
        self.online = True

    def stop(self) -> None:
        self.online = False
        self.loop_thread.run(self._close())

    def go_offline(self) -> None:
        self.online = False
        self.loop_thread.submit(self._close())

    def go_online(self) -> None:
        self.online = True
        self.loop_thread.submit(self._open())

    async def _open(self) -> None:
        if self._server is not None:
            return
        server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(server.sockets[0].getsockname()[1])
        self._server = server

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        writers = list(self._writers)
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 2.0)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        framer = self.new_framer()
        try:
            while data := await reader.read(READ_SIZE):
                for frame in framer.feed(data):
                    reply = self._safe_answer(frame)
                    if reply:
                        self.requests_answered += 1
                        writer.write(reply)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _safe_answer(self, frame: FrameT) -> bytes | None:
        if not self.online:
            return None
        try:
            return self.answer(frame)
        except ProtocolError as exc:
            logger.info("gateway %s: no answer to %s: %s", self.gateway_id, frame, exc)
        except Exception:
            logger.exception("gateway %s failed on %s", self.gateway_id, frame)
        return None
