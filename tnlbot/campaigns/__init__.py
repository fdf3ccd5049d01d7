"""Campaigns: teams of agents per body, reminders, opening and closing.

- hook.py      takes part in the dispatch transaction (team commands, SIREN,
               élu confirmation, copies from last year, who answered what)
- reminders.py the reminder wave of a scheduler tick (policy: schedule.py)
- closing.py   opening and closing of campaigns, the jury's notice
- scheduler.py the loop that runs the ticks
- cli.py       `tnlbot campaign create/open/close/show/list`
"""
