"""The channel runtime: WeChat adapters, dedup, identity, routing to Rasa, reply delivery."""
