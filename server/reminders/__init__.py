"""Reminder adapters: the scheduler, the notifier channels and the message templates.

Light on purpose (the settings import ``server.reminders.config``): import the scheduler
from ``server.reminders.scheduler``.
"""
