"""People and organizations: users, organizations, memberships with a role."""
