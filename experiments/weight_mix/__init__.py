"""Mixing a run's weights back towards its start (WiSE-FT): does it keep the day?"""
