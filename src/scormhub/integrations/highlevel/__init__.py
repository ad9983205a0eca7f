"""HighLevel (LeadConnector API v2): the CRM adapter, its OAuth and app crypto, and its stored state."""
