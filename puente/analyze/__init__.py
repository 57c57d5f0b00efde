"""Analytics: corridors, hotspots, alerts, precursors, firearms, key players and CBP statistics."""
