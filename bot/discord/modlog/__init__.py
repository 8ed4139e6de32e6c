"""The mod-log service: the one place that puts flags in a guild's mod-log channel and keeps them there.

The cogs call it and it calls none of them: the live cog hands it each new flag with the guild
configuration it already read, the review and settings cogs ask it to post or refresh a flag after a
change, and the admin cog posts its retrain report through it. It owns what a post shows (the embed), the
persistent buttons under it and what a click on them does, the retries of failed posts, and what
moderators do to a flag, which the buttons and the `/flags` commands share, with what a verdict does on the
server's escalation ladder (a strike and its step, undone on a reversal) and members' appeals of it.

It is also an extension of its own, loaded before the cogs, so that its buttons and its retries work
whichever cogs are loaded.
"""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.modlog._actions import load_flag, review
from bot.discord.modlog._appeals import ITEMS as APPEAL_ITEMS
from bot.discord.modlog._appeals import on_form_submit, post_appeal
from bot.discord.modlog._channel import post_notice
from bot.discord.modlog._delivery import ModLogDelivery
from bot.discord.modlog._embeds import describe_failure, flag_embed, shown_labels, spoiler_safe
from bot.discord.modlog._ladder import notify_automod
from bot.discord.modlog._post import ITEMS, publish_flag, refresh_flag
from bot.discord.modlog._unsaved import publish_unsaved

__all__ = ["describe_failure", "flag_embed", "load_flag", "notify_automod", "post_appeal", "post_notice",
           "publish_flag", "publish_unsaved", "refresh_flag", "review", "shown_labels", "spoiler_safe"]


async def setup(bot: ToxmodBot) -> None:
    await bot.add_cog(ModLogDelivery(bot))
    # the buttons carry their state in the custom id, so they keep working after a restart
    bot.add_dynamic_items(*ITEMS, *APPEAL_ITEMS)
    bot.add_listener(on_form_submit, "on_interaction")  # the appeal forms, by their ids, for the same reason


async def teardown(bot: ToxmodBot) -> None:
    bot.remove_dynamic_items(*ITEMS, *APPEAL_ITEMS)
    bot.remove_listener(on_form_submit, "on_interaction")
