"""The Slack app manifest is valid, and declares what the code needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Slack's manifest schema (slackapi/manifest-schema, MIT; its notice is beside it), kept in the checkout.
SCHEMA = ROOT / "tests" / "vendor" / "slack" / "manifest.schema.1.0.0.json"

# The scope each Web API method the bot calls needs (https://api.slack.com/methods).
SCOPE_OF_METHOD = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
    "usergroups_users_list": "usergroups:read",
    "views_open": None,
    "views_update": None,
}


def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def manifest() -> dict:
    return yaml.safe_load((ROOT / "app_manifest.yml").read_text())


def test_the_manifest_is_valid_against_slacks_schema() -> None:
    jsonschema.validate(manifest(), schema())


def test_the_manifest_is_rejected_by_the_schema_when_broken() -> None:
    broken = manifest()
    broken["features"]["slash_commands"][0]["command"] = "access"  # commands start with a slash
    try:
        jsonschema.validate(broken, schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted a slash command without a slash")


def test_the_slash_command_is_the_one_the_bot_listens_to() -> None:
    from handlers.answers import COMMAND

    commands = [command["command"] for command in manifest()["features"]["slash_commands"]]
    assert commands == [COMMAND]
    assert manifest()["features"]["slash_commands"][0]["should_escape"] is True
    assert manifest()["settings"]["interactivity"]["is_enabled"] is True


def test_every_web_api_method_the_bot_calls_has_its_scope() -> None:
    called: set[str] = set()
    for source in (ROOT / "handlers").rglob("*.py"):
        text = source.read_text()
        called |= set(re.findall(r"client\.(\w+)\(", text)) - {"api_call"}
        # Calls made through the outbox name the method as Slack spells it: "chat.postMessage".
        called |= {name.replace(".", "_") for name in re.findall(r'call\(\s*"(\w+\.\w+)"', text)}
    assert {"chat_postMessage", "chat_update", "users_info"} <= called
    unknown = called - SCOPE_OF_METHOD.keys()
    assert not unknown, f"add the scope for {unknown} to SCOPE_OF_METHOD and app_manifest.yml"
    granted = set(manifest()["oauth_config"]["scopes"]["bot"])
    needed = {SCOPE_OF_METHOD[method] for method in called} - {None}
    assert needed | {"commands"} == granted, "scopes should be exactly what the bot uses"
