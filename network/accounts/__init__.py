"""Accounts: users, roles, login, password reset and API tokens."""
