"""Local energy management: the house's main fuse, solar surplus, phase switching, MQTT to the home."""

LIMIT_SOURCE = "energy management"  # how the station's views name this limit source
