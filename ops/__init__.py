"""The operator's side: the admin dashboard, health and readiness, metrics, JSON logs.

Sits on top of the pipeline like digest.admin: it may read any stage, and no stage
imports it.
"""
