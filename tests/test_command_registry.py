"""Commands are declared once (core.commands.REGISTRY): the engine's names, its handlers
and Telegram's menu all come from it."""
from tnlbot.core.commands import COMMANDS, HANDLERS, REGISTRY
from tnlbot.transports.telegram import MENU


def test_every_command_has_a_handler_and_no_name_means_two_commands():
    assert {command.intent for command in REGISTRY} == set(HANDLERS)
    owners: dict[str, set[str]] = {}
    for command in REGISTRY:
        for name in {command.fr, command.en, *command.aliases}:
            owners.setdefault(name, set()).add(command.intent)
    assert {name: found for name, found in owners.items() if len(found) > 1} == {}
    assert all(COMMANDS[name] == command.intent for command in REGISTRY
               for name in (command.fr, command.en, *command.aliases))


def test_telegrams_menu_is_the_registry_and_each_entry_is_described_in_every_language(catalog):
    assert MENU == tuple((c.fr, c.en) for c in REGISTRY if c.menu)
    for code in catalog.locales:
        keys = set(catalog.keys(code))
        assert {f"telegram.command.{en}" for _, en in MENU} <= keys, code
