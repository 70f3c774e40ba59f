"""Residents on their own phones: signed in without a password (a one-time code from the
hut's display or their reminder channel), seeing their own loans and nobody else's."""
