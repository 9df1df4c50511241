"""Delivery: the outbox loop, the notifier contract and the platforms' rate limits.

The loop (`loop.Deliverer`) claims outbox rows, sends each through the
`Notifier` registered for its platform (`notifier.Notifier`), and retries,
pauses or dead-letters by the error's meaning. It never imports a platform.
"""

from bot.delivery.loop import Deliverer, DeliveryPolicy
from bot.delivery.notifier import Notifier

__all__ = ["Deliverer", "DeliveryPolicy", "Notifier"]
