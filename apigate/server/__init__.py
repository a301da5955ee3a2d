"""Our own HTTP/1.1 server core: asyncio protocols on uvloop with the httptools parser."""
