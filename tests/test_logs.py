"""No secret reaches the logs (bot.service.logs)."""

from __future__ import annotations

import logging

import pytest

from bot.service.logs import configure_logging, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getUpdates",
            "HTTP Request: POST https://api.telegram.org/bot<redacted>/getUpdates",
        ),
        ("token xoxb-1234-5678-abcdEFGH in a message", "token xoxb-<redacted> in a message"),
        ("socket mode with xapp-1-A0-123-abc", "socket mode with xapp-<redacted>"),
        ("Authorization: Bearer sk-abc.def_123", "Authorization: Bearer <redacted>"),
        ("robot 12:ab and bot 42 are not tokens", "robot 12:ab and bot 42 are not tokens"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_configured_logging_hides_tokens_and_httpx_request_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    try:
        logging.getLogger("httpx").info("HTTP Request: POST https://x/bot%s/getMe", TOKEN)
        logging.getLogger("bot.platforms").warning("failed: %s", f"https://x/bot{TOKEN}/send")
        err = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
    assert TOKEN not in err
    assert "getMe" not in err  # httpx's per-request lines are below WARNING
    assert "failed: https://x/bot<redacted>/send" in err
