"""Every text the bot shows about itself: the command list, /help, usages and fixed answers."""

from __future__ import annotations

import html

from telegram import BotCommand

from bot.timing import HELP_TIMING

COMMANDS = (
    ("subscribe", "Alert this chat about postings matching a query"),
    ("list", "Show this chat's subscriptions"),
    ("unsubscribe", "Remove a subscription: /unsubscribe ID or all"),
    ("latest", "Newest jobs: /latest [all] [N] [QUERY]"),
    ("settings", "Time zone, quiet hours, daily cap: /settings"),
    ("mode", "Instant or digest: /mode ID daily 09:00"),
    ("unmute", "Take a company off this chat's mute list"),
    ("pause", "Pause alerts in this chat"),
    ("resume", "Resume alerts in this chat"),
    ("sources", "The watched job boards and their health"),
    ("help", "What this bot does and the query syntax"),
)

HELP = """<b>jobhound</b> watches job boards and sends you new postings that match your filters.

<b>Commands</b>
/subscribe <i>query</i> (or /sub) — alert this chat about matching postings
/list — this chat's subscriptions, with buttons to remove them
/unsubscribe <i>ID</i>|all (or /unsub) — remove subscriptions
/latest [all] [<i>N</i>] [<i>query</i>] — the newest jobs, each once (default 5, at most 20)
/latest all … — closed jobs too, marked closed
/mode <i>ID</i> instant|daily <i>HH:MM</i>|weekly <i>DAY HH:MM</i> — instant or digest
/settings [tz|quiet|cap <i>value</i>] — time zone, quiet hours, daily cap
/unmute <i>company</i> — undo an alert's 🔇 Mute button (/list shows the mute list)
/pause, /resume — stop and restart alerts, keeping subscriptions
/sources — the watched boards and their health

<b>Queries</b>
<code>rust remote</code> — all the words, any order
<code>rust OR golang</code> — either word
<code>(rust OR golang) backend</code> — groups (OR binds tighter than AND)
<code>python -django</code> or <code>python NOT django</code> — exclude a word
<code>"site reliability"</code> — an exact phrase
<code>title:senior company:acme location:berlin tag:python</code> — one field only \
(also <code>title:"site reliability"</code>, <code>title:(rust OR go)</code>)
<code>engineer*</code> — any word starting with engineer

<b>Filters on a posting's facts</b>
<code>salary&gt;=90k EUR</code> — pays at least 90,000 EUR a year
<code>remote:eu</code> — remote, open to someone living in the EU (also \
<code>remote:de</code>, <code>remote:yes</code>)
<code>seniority&gt;=senior</code> — senior, lead, manager or director
Also <code>type:contract</code>, <code>onsite:berlin</code>, <code>age&lt;14d</code>. A posting \
that does not state the fact passes (the alert says so); add <code>!</code> to require it \
(<code>salary&gt;=90k!</code>).

Whole words, tech names intact: <code>java</code> is not JavaScript, <code>go</code> is not \
"good"; <code>c++</code>, <code>c#</code>, <code>.net</code>, <code>node.js</code> work. Case \
and accents don't matter (<code>munchen</code> = München). To search for or/and/not, quote it. \
A query needs a word to look for (<code>-php</code> alone is refused). Limits: 200 characters, \
20 terms, 50 subscriptions per chat.

In groups, only administrators can change subscriptions, mutes and alert times.

<b>{HELP_TIMING_TITLE}</b>
{HELP_TIMING_BODY}"""
_title, _, _body = HELP_TIMING.partition("\n")
HELP = HELP.replace("{HELP_TIMING_TITLE}", html.escape(_title)).replace(
    "{HELP_TIMING_BODY}", html.escape(_body)
)

SUBSCRIBE_USAGE = (
    "Usage: /subscribe <i>query</i>, for example\n"
    "<code>/subscribe rust remote</code>\n"
    "<code>/subscribe (python OR golang) backend -intern</code>\n"
    '<code>/subscribe title:"site reliability" location:europe</code>\n'
    "Add <code>--daily 09:00</code> or <code>--weekly mon 09:00</code> for a digest.\n"
    "See /help for the full syntax."
)

ADDSOURCE_USAGE = (
    "Usage: /addsource URL (a job board page, a posting on it, its API URL or a careers page)"
)
EXPIRED_BUTTON = "This button has expired."
NOT_ADMIN = (
    "Only this group's administrators can change its subscriptions, mute list and alert times."
)
COMMANDS_ONLY = "I understand commands only: send /help to see them."


def bot_commands() -> list[BotCommand]:
    """The command list registered with Telegram (`setMyCommands`), shown in the chat's menu."""
    return [BotCommand(name, text) for name, text in COMMANDS]
