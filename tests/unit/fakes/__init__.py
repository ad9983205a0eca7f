"""In-memory fakes of the domain's ports: they keep state, so tests assert outcomes rather than calls.

One module per group of ports (the unit of work and its repositories, the CRM, the engines, the plain
services); each ends with the assignments through which mypy checks its fakes against the ports.
"""
