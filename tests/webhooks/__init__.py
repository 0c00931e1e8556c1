"""Tests of shop webhook signatures and payloads."""
