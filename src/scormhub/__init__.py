"""SCORM Hub: SCORM course delivery for businesses that live in their CRM."""

__version__ = "0.1.0"
