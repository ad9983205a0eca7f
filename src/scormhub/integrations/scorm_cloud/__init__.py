"""SCORM Cloud (REST API v2): the delivery engine adapter, one module per concern."""
