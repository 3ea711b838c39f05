"""Local energy management: the house's main fuse, solar surplus, phase switching, MQTT to the home."""
