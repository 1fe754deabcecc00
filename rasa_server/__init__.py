"""The Rasa server as the project runs it: `python -m rasa_server run …` (Rasa's environment)."""
