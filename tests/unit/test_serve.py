"""The web process (config.serve): daphne's CLI with the size limit at the protocol layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chat.protocol import CLOSE_FRAME_CHARS
from config.serve import SizeLimitedCommandLine, SizeLimitedServer

REPO = Path(__file__).resolve().parents[2]


def test_the_procfile_web_process_and_the_demo_run_it() -> None:
    web = next(
        line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    assert "python -m config.serve " in web
    assert web.endswith(" config.asgi:application")
    assert "-m config.serve " in (REPO / "bin" / "demo").read_text()


def test_the_limits_default_to_ours_and_can_still_be_set() -> None:
    cli = SizeLimitedCommandLine()
    args = cli.parser.parse_args(["config.asgi:application"])
    assert args.websocket_max_message_size == CLOSE_FRAME_CHARS
    assert args.websocket_max_frame_size == CLOSE_FRAME_CHARS
    args = cli.parser.parse_args(["--websocket-max-message-size", "10", "config.asgi:app"])
    assert args.websocket_max_message_size == 10


def test_the_server_turns_fail_by_drop_off_once_the_factory_exists() -> None:
    class Factory:
        def __init__(self) -> None:
            self.options: dict[str, Any] = {}

        def setProtocolOptions(self, **options: Any) -> None:
            self.options.update(options)

    called = []
    server = SizeLimitedServer(
        application=None, endpoints=["tcp:port=0"], ready_callable=lambda: called.append(1)
    )
    server.ws_factory = Factory()
    server.ready_callable()
    assert server.ws_factory.options == {"failByDrop": False, "closeHandshakeTimeout": 5}
    assert called == [1]
