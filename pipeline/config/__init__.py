"""Configuration: settings from the environment and the three YAML files (sources, watchlists, cron)."""
