"""Back-office staff: agents, supervisors and admins, their logins and sessions."""
