"""Settings, one module per concern: general (plan, CRM writes, custom objects), SCORM Cloud, branding."""
