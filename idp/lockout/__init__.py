"""Brute-force protection: exponential lockout per account, per address and per device."""
