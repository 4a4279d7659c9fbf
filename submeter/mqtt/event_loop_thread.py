"""An asyncio event loop in a daemon thread, so that sync code can run async servers.

The embedded broker and the simulator's TCP gateways run on one of these. `run` waits for a
coroutine (bounded by a timeout); `submit` schedules one and returns at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

ResultT = TypeVar("ResultT")

DEFAULT_TIMEOUT_S = 10.0


class EventLoopThread:
    def __init__(self, name: str = "submeter-event-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the event loop thread is not running")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> EventLoopThread:
        if self._thread is not None:
            raise RuntimeError("the event loop thread is already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run_loop() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run_loop, name=self._name, daemon=True)
        self._thread.start()
        ready.wait(DEFAULT_TIMEOUT_S)
        return self

    def submit(self, coroutine: Coroutine[Any, Any, ResultT]) -> concurrent.futures.Future[ResultT]:
        """Schedule `coroutine` on the loop; return a future without waiting."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(
        self, coroutine: Coroutine[Any, Any, ResultT], timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> ResultT:
        """Run `coroutine` on the loop and wait for its result (at most `timeout_s`)."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("EventLoopThread.run called from its own thread would deadlock")
        future = self.submit(coroutine)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Cancel what is still running on the loop, stop it and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if thread.is_alive():
            with contextlib.suppress(TimeoutError, RuntimeError):
                self.run(_cancel_other_tasks(), timeout_s)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()
        self._thread = None
        self._loop = None

    def __enter__(self) -> EventLoopThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
