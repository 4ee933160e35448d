"""Running the flows over time: the cron scheduler, queue workers, deployment files."""
