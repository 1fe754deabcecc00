"""Human handoff: the queue of conversations a person answers instead of the bot."""
