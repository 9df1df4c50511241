"""newswatch: a self-hosted news-alert bot for Slack and Telegram."""

__version__ = "0.1.0"
