"""Offline tools: render, validate, schemas."""
