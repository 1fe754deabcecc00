"""Other systems (POS tills, the mall) writing to the CRM: client keys, scopes, idempotency."""
