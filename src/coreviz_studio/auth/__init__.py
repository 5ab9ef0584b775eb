"""Who is calling: API keys, bearer sessions, and the principal every service is scoped by."""
