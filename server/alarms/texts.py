"""What the staff channel's alarm messages say beside the alarm's name (whose catalogue is
server/domain/alarms.py ALARM_TEXT) and the hut: the alarm's number, so staff find it in
the API, and how it stands. Chinese first, English beside; nothing personal (an alarm
names a hut, a kind and a time, never a card or a member)."""

from __future__ import annotations

from toolhut.i18n import bilingual

NUMBER = bilingual("alarm #{id}")
STILL_ACTIVE = bilingual("still active")
ENDED = bilingual("ended at {at}")
REPEATED = bilingual("repeated {count} times")
SEPARATOR = "，"
WHEN = "%m-%d %H:%M:%S"  # how ENDED writes its time, in the hut's time zone
