"""The safety path in a process of its own: the board and the real-time loop live there.

The daemon's interpreter runs OCPP, SQLite, the API and everything else that may hold the
interpreter lock for tens of milliseconds (a 1 MB frame parsed by ``json.loads`` does); the
real-time loop must not wait for any of it. So ``open_board`` starts ``python -m
controller.safety.child``, which opens the hardware and later runs ``controller.realtime``;
the daemon gets a ``hal.board.Board`` whose devices forward each call to that process, and a
``RealtimeProcess`` with the real-time loop's interface (``set_control``, ``post_meter``,
``snapshot``, ``healthy``). ``wire`` is what travels between the two.
"""
