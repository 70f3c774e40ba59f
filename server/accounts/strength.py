"""How strong a new staff password must be: long enough, not the username, not one of the
passwords tried first by anyone guessing, and either mixed (three kinds of character) or
long (a passphrase). Each failure has its own message."""

from __future__ import annotations

from toolhut.i18n import bilingual

MIN_LENGTH = 10
PASSPHRASE_LENGTH = 16
MIN_CLASSES = 3

# What the person reads: Chinese first, English beside it.
TEXT_TOO_SHORT = bilingual("the password needs at least {count} characters").format(
    count=MIN_LENGTH
)
TEXT_IS_USERNAME = bilingual("the password must not contain the username")
TEXT_COMMON = bilingual("this is a commonly used password: choose another")
TEXT_TOO_PLAIN = bilingual(
    "mix at least {kinds} of upper case, lower case, digits and symbols, "
    "or use {length} characters or more"
).format(kinds=MIN_CLASSES, length=PASSPHRASE_LENGTH)

# The most used passwords (and the ones an office here tries first), compared without case
# and ignoring what is not a letter or digit: "Password_123!" is "password123".
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "1qaz2wsx3edc",
        "a123456789",
        "abc1234567",
        "abcd123456",
        "admin12345",
        "admin123456",
        "administrator",
        "changeme123",
        "iloveyou123",
        "password",
        "password1",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "qwerty1234",
        "qwerty123456",
        "qwertyuiop",
        "qazwsxedc123",
        "toolhut123",
        "welcome123",
        "woaini1314",
        "woaini520",
        "zxcvbnm123",
        "1q2w3e4r5t",
        "88888888888",
        "11111111111",
        "00000000000",
        "5201314520",
        "asdfghjkl1",
    }
)


def _bare(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _classes(password: str) -> int:
    kinds = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(kinds)


def weaknesses(password: str, *, username: str) -> list[str]:
    """What is wrong with ``password`` for ``username``, one message each; [] if strong."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(TEXT_TOO_SHORT)
    name = username.strip().lower()
    if name and name in password.lower():
        problems.append(TEXT_IS_USERNAME)
    bare = _bare(password)
    if bare in COMMON_PASSWORDS or (len(set(bare)) <= 2 and len(password) >= MIN_LENGTH):
        problems.append(TEXT_COMMON)
    if len(password) < PASSPHRASE_LENGTH and _classes(password) < MIN_CLASSES:
        problems.append(TEXT_TOO_PLAIN)
    return problems
