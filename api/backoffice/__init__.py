"""The back office: what staff (agents, store and repair-centre staff, admins) call."""
