"""labbridge: the edge agent that reads a lab's serial devices and relays them to MQTT."""

__version__ = "0.1.0"
