"""The Discord side: the bot object and one package per cog, each owning its views and buttons."""
