"""The small core every floor above models shares: settings, the clock, metrics."""
