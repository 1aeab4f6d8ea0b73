"""A stateful simulator of the DigitalOcean Container Registry and DOKS API (standard library only)."""
