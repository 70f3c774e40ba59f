"""The floor of the tool hut, what both ends of the MQTT wire share: the wire contract, the
hut keys, MQTT client set-up and a few small helpers. It imports nothing of ours outside
itself (tests/test_layers.py checks), so the gateway and the server can both stand on it;
the command line and the demo are above, in ``toolhut_cli``."""

__version__ = "0.1.0"
