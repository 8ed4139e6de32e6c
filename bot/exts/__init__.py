"""The bot's cogs, one per concern: live scoring, moderator review, admin settings."""
