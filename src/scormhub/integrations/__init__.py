"""Adapters behind the domain ports: database, engines, CRMs, storage, documents, crypto."""
