"""Shared parts of the tool hut: the MQTT wire contract, MQTT client set-up and the CLI."""

__version__ = "0.1.0"
