"""Real hardware: Modbus meters, GPIO, kernel PWM, ADCs, Modbus EVSE boards."""
