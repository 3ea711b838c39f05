"""MQTT to the home: state out, commands in, Home Assistant discovery, boxes sharing a fuse."""
