"""The running service: the composition root, the scheduler, the HTTP server.

- `app`: builds every part from one Settings object (`build_app`).
- `run`: `serve`, the scheduler that runs polls and deliveries.
- `http`: the one HTTP server (`/healthz`, `/metrics`, platform endpoints).
- `platforms`: which chat front-ends start, with what.
- `logs`: logging set-up with secrets redacted.
"""
