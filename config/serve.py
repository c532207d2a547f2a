"""The web process: daphne's own command line, with the WebSocket size limit enforced by the
protocol layer, so that a client sending an oversized frame gets a real 1009 close.

    python -m config.serve [daphne's options] config.asgi:application

Daphne passes ``--websocket-max-message-size`` and ``--websocket-max-frame-size`` (default
1 MiB) to autobahn, which checks them as soon as a frame's header arrives, before the payload
is read. But autobahn fails a connection by dropping TCP (its ``failByDrop`` option, on by
default and not exposed by daphne), so the client sees 1006 and no reason. Here the two
limits default to ``chat.protocol.CLOSE_FRAME_CHARS`` (512 KiB) and ``failByDrop`` is turned
off: autobahn then sends a close frame with 1009 at once, throws the rest of the frame away
as it arrives (nothing is buffered) and closes the TCP connection on the client's close
reply, or after a closing-handshake timeout of 5 s (autobahn's default is 1 s: too short
for a client on a slow or busy link to finish uploading the rest of a large frame, after
which it would only see a reset). Other failures (protocol errors,
invalid UTF-8) likewise get their close code (1002, 1007) instead of a dropped connection,
as RFC 6455 section 7.1.7 asks. Every other daphne option works as usual, and the two limits
can still be set on the command line. The room and staff consumers still close a frame over
the limit with 4009 if one gets past (a plain ``daphne``, or larger limits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server

from chat.protocol import CLOSE_FRAME_CHARS

# How long a closing connection may take to answer our close frame before TCP is dropped.
CLOSE_HANDSHAKE_SECONDS = 5


class SizeLimitedServer(Server):
    """Daphne's server with autobahn's failByDrop off: a frame over the size limit is
    answered with a 1009 close frame, not a dropped connection."""

    def __init__(
        self, *args: Any, ready_callable: Callable[[], None] | None = None, **kwargs: Any
    ) -> None:
        # run() makes the WebSocket factory, then calls ready_callable, then runs the reactor.
        def ready() -> None:
            self.ws_factory.setProtocolOptions(
                failByDrop=False, closeHandshakeTimeout=CLOSE_HANDSHAKE_SECONDS
            )
            if ready_callable is not None:
                ready_callable()

        super().__init__(*args, ready_callable=ready, **kwargs)


class SizeLimitedCommandLine(CommandLineInterface):
    server_class = SizeLimitedServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(
            websocket_max_message_size=CLOSE_FRAME_CHARS,
            websocket_max_frame_size=CLOSE_FRAME_CHARS,
        )


def main() -> None:
    SizeLimitedCommandLine.entrypoint()


if __name__ == "__main__":
    main()
