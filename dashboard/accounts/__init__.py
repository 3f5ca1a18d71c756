"""People: users, passwords and tokens, who may see and change what, and the audit trail."""
