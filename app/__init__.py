"""Hearth: offline, private chat with small language models."""

__version__ = "0.1.0"
APP_NAME = "Hearth"
