"""Slack: the notifier (alerts), the bolt front-end (commands, buttons), rendering.

`app.start_slack(deps)` starts it all; `notifier`, `render`, `intake` and
`answers` are its parts.
"""
