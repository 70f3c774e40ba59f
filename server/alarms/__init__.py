"""Alarm adapters: the hut watch (``watch``: offline too long, events piling up) and the
staff channel's fast loop (``notifier``), run together on a thread of every server
process (``service``). The alarms themselves are raised by the rule book
(server/domain/alarm_rules.py) and written by server/storage/alarms.py.

Light on purpose (the settings import ``server.alarms.config``): import the service from
``server.alarms.service``.
"""
