"""Custom actions for Rasa (rasa-sdk action server): thin adapters over crm, one module a feature."""
