"""uvicorn's h11 HTTP protocol with a deadline on reading each request.

uvicorn drops idle keep-alive connections (timeout_keep_alive) but has no limit on how long a
client may take to send a request: a client sending a header byte every few seconds, or a body
slowly, holds a connection (and a socket, and the request's buffers) for ever; 300 of them
stayed open 76 s in a test. Here each request must arrive whole (headers and body) within
`request_timeout_s` of the connection opening or of the previous answer; otherwise the
connection is closed (the application sees a disconnect).
"""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def timed_protocol(request_timeout_s: float) -> type[H11Protocol]:
    """An H11Protocol class whose requests must be read within request_timeout_s seconds."""

    class TimedH11Protocol(H11Protocol):
        _read_deadline = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_read_deadline()

        def connection_lost(self, exc) -> None:
            self._disarm_read_deadline()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_read_deadline()  # the next request on this connection gets its own deadline

        def _arm_read_deadline(self) -> None:
            self._disarm_read_deadline()
            if not self.transport.is_closing():
                self._read_deadline = self.loop.call_later(request_timeout_s, self._read_timed_out)

        def _disarm_read_deadline(self) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
                self._read_deadline = None

        def _read_timed_out(self) -> None:
            self._read_deadline = None
            if self.conn.their_state is not h11.DONE and not self.transport.is_closing():
                self.logger.info("dropped a client that did not send its request within %g s", request_timeout_s)
                self.transport.close()

    return TimedH11Protocol
