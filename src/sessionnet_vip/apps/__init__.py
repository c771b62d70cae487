"""Application audit: which programs need a virtual IP, a virtual loopback or the client address."""
