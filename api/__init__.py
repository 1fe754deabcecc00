"""The FastAPI app: WeChat callbacks, health, and (later) the mini-program API and back office."""
