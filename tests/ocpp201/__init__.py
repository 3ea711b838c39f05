"""OCPP 2.0.1 test cases of part 6 ("Test Cases Charging Station"), run by the harness in
harness.py against the real daemon on the simulated board."""
