"""What the driver reads on the box's display: the session, its price and the backend's messages
(protocol-neutral; both OCPP front ends feed it)."""
