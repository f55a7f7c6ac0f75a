"""Runnable recipes: one file per job, each ending with its exact expected output."""
