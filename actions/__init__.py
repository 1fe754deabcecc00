"""Custom actions for the rasa-sdk action server: thin adapters over crm, one module a feature."""
