"""Who someone is and may see: roles, scope, invites, logins and the language they are addressed in."""
