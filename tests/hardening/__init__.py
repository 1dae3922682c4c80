"""Attacks on the platform from its own surface: mass assignment through every writable API
operation and portal form, and hostile uploads and exports."""
