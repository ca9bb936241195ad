"""Learned codec models and their configuration table."""
