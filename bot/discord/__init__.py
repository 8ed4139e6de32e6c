"""The Discord side: the bot object, the mod-log service, and one package per cog over them, each cog's
views and helpers private to its package."""
