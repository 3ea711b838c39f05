"""The local API's HTTP/1.1 server: a thin asyncio edge over h11 (server.py), the request and
response vocabulary handlers speak (messages.py), the routing table (routing.py) and streamed
multipart bodies (multipart.py). It knows nothing of the API it serves."""
