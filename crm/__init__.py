"""The domain: customers, conversations, knowledge base. Imports neither FastAPI nor rasa_sdk."""
