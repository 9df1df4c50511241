"""Telegram: the notifier (alerts), the front-end (commands, buttons), rendering.

`app.start_telegram(deps)` starts it all; `notifier`, `render`, `intake`,
`frontend`, `replies` and `poll` are its parts.
"""
