"""The simulated wallbox world: EVs, a board, a meter, a bench CSMS, scenarios."""
