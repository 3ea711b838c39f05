"""Version-independent OCPP plumbing: RPC framing (rpc), the websocket (link), the
transaction-message journal (journal). Version front ends (v16, v201) stand on these."""
