"""Reminder adapters: the sweep and its parts, the notifier channels and the message texts.

``scheduler`` (the service and its thread) composes ``planning`` (loans), ``notices`` (the
ledger's), ``stock_alerts`` and ``delivery`` (with ``rendering`` and ``display``); ``types``
and ``payloads`` are what they share, ``channels`` and ``templates`` how messages go out.

Light on purpose (the settings import ``server.reminders.config``): import the scheduler
from ``server.reminders.scheduler``.
"""
