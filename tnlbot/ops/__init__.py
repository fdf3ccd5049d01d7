"""Running tnlbot as a service: logs, health and metrics, backups."""
