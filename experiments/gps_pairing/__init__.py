"""GPS pairing of day and night drives on the simulated route: how precise at a given receiver noise."""
