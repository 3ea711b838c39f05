"""Hardware abstraction: the contracts drivers and the simulator implement."""
