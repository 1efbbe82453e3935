"""What every app shares: the project's errors, workspace and role scoping for the
API and the console, the one-beat lock and the process launcher.

core sits below every app and imports none of them. It reaches the tenant
model the way Django reaches the user model: by name, from a setting
(`FARM_WORKSPACE_MODEL`), and memberships through the user's `memberships`.
"""
