"""Configuration: one settings class, read from environment variables and a YAML file.

Environment variables win over the file, so a deployment can keep secrets out of it. String values in the file may
also name an environment variable as `${NAME}`. Without a file the bot runs on its embedded defaults: SQLite in the
working directory and the `sandbox` platform.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import ConfigError
from domain.catalog import RoleCatalog, name_key
from domain.policy import PolicyConfig, slack_ids_named
from platforms.registry import PLATFORM_TYPES
from platforms.settings import ChartbeatSettings, HeapSettings, SandboxSettings, ScimSettings
from services.settings import ElevationSettings, RemovalSettings, ReviewSettings, TaskSettings

DEFAULT_CONFIG_FILE = "accessbot.yml"
CONFIG_ENV = "ACCESSBOT_CONFIG"

# The configured platform types, told apart by their `type:`.
PlatformConfig = Annotated[
    SandboxSettings | ScimSettings | HeapSettings | ChartbeatSettings, Field(discriminator="type")
]


def _roles_of(catalogs: Iterable[RoleCatalog]) -> set[str]:
    known: set[str] = set()
    for catalog in catalogs:
        known |= {name_key(role) for role in catalog.account_roles}
        known |= {name_key(role) for scope in catalog.scopes for role in scope.roles}
    return known


def policy_problems(policy: PolicyConfig, catalogs: Mapping[str, RoleCatalog]) -> list[str]:
    """What in the policy names platforms, roles or scopes that are not configured (each a likely typo)."""
    problems = []
    for rule in policy.effective_rules:
        where = f"policy.rules[{rule.name}]"
        for platform in rule.match.platforms:
            if platform not in catalogs:
                problems.append(f"{where} names platform {platform!r}; configured: {', '.join(catalogs)}")
        relevant = [catalogs[p] for p in rule.match.platforms if p in catalogs] or list(catalogs.values())
        for role in rule.match.roles:
            if name_key(role) not in _roles_of(relevant):
                problems.append(f"{where} names role {role!r}, which no matching platform has")
        scopes = {name_key(scope.name) for catalog in relevant for scope in catalog.scopes}
        for scope in rule.match.scopes:
            if name_key(scope) not in scopes:
                problems.append(f"{where} names scope {scope!r}, which no matching platform has")
    names = [rule.name for rule in policy.effective_rules]
    problems += [f"policy.rules: the name {name!r} is used twice" for name in set(names) if names.count(name) > 1]
    return problems


def _default_platforms() -> dict[str, PlatformConfig]:
    return {"sandbox": SandboxSettings()}


#: The most worker processes "auto" starts on PostgreSQL, however many cores there are; and the most there may be.
AUTO_WORKERS = 4
MAX_WORKERS = 8


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCESSBOT_", env_nested_delimiter="__", extra="forbid")

    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret")
    )
    # Base URL of the Slack Web API; set it to talk to a local stand-in instead of https://slack.com/api/.
    slack_api_url: str | None = Field(None, validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url"))
    database_url: str = Field(
        "sqlite:///accessbot.db", validation_alias=AliasChoices("ACCESSBOT_DATABASE_URL", "database_url")
    )
    # Where approval cards go: a channel id (C...) or name. The bot must be a member of it.
    approvals_channel: str = "#access-approvals"
    platforms: dict[str, PlatformConfig] = Field(default_factory=_default_platforms)
    elevations: ElevationSettings = Field(default_factory=ElevationSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    removals: RemovalSettings = Field(default_factory=RemovalSettings)
    reviews: ReviewSettings = Field(default_factory=ReviewSettings)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    # serve's worker processes (bot/worker.py: Workers); see `workers()` for what "auto" means.
    worker_processes: int | Literal["auto"] = "auto"
    # Messages Slack could not take (an outage) are tried again after this many seconds, doubling up to 5 minutes.
    outbox_retry_seconds: float = Field(default=5.0, gt=0)
    log_level: str = "INFO"
    # text: a line per event for a terminal; json: one JSON object per line (with the instance and request id).
    log_format: Literal["text", "json"] = "text"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings passes the file's values as init values; the environment overrides them.
        return env_settings, init_settings

    @field_validator("worker_processes", mode="before")
    @classmethod
    def _worker_count(cls, value: Any) -> Any:
        """One line for any value that is neither a count nor "auto" (not one per branch of the type)."""
        if value == "auto":
            return value
        try:
            count = int(value) if isinstance(value, int | str) and not isinstance(value, bool) else 0
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_WORKERS:
            raise ValueError(f"{value!r} is not a number of worker processes: give 1 to {MAX_WORKERS}, or auto")
        return count

    @field_validator("platforms")
    @classmethod
    def _platform_names(cls, platforms: dict[str, PlatformConfig]) -> dict[str, PlatformConfig]:
        if not platforms:
            raise ValueError("configure at least one platform, for example `sandbox: {type: sandbox}`")
        for name in platforms:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", name) or name == "all":
                raise ValueError(
                    f"platform name {name!r} must be lowercase letters, digits and dashes (and not `all`), "
                    "because people type it in /access"
                )
        return platforms

    def workers(self, cores: int | None = None) -> int:
        """How many worker processes serve runs: `worker_processes`, or for "auto" (the default) one on SQLite, which
        takes writes from one process at a time, and on PostgreSQL, which takes them from several at once, one per
        core this process may use (`cores`, read from the system when not given), at most AUTO_WORKERS. A Python
        process works on one core at a time; each worker takes about 90 MB and a pool of database connections."""
        if self.worker_processes != "auto":
            return self.worker_processes
        if self.database_url.startswith("sqlite"):
            return 1
        if cores is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(cores, AUTO_WORKERS))

    def catalogs(self) -> dict[str, RoleCatalog]:
        """Each platform's roles and scopes, as configured: all that `/access` needs to be parsed."""
        return {name: platform.catalog() for name, platform in self.platforms.items()}

    @model_validator(mode="after")
    def _roles_exist(self) -> Settings:
        catalogs = self.catalogs()
        for name, platform in self.platforms.items():
            for role in platform.role_max_duration:
                if name_key(role) not in _roles_of([catalogs[name]]):
                    raise ValueError(f"platforms.{name}.role_max_duration names {role!r}, which is not a role there")
        problems = policy_problems(self.policy, catalogs)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def redacted(self) -> dict[str, Any]:
        """The settings as shown to people: secrets print as *****."""
        return self.model_dump(mode="json")

    def slack_ids(self) -> dict[str, list[str]]:
        """Every Slack user and user group id this config names, with where."""
        approvers = {name: platform.approvers for name, platform in self.platforms.items()}
        return slack_ids_named(self.policy, approvers)

    def placeholders(self) -> list[str]:
        """The example config's placeholder ids still in this config, each with where it is."""
        return [
            f"{slack_id} ({', '.join(where)})"
            for slack_id, where in self.slack_ids().items()
            if slack_id in EXAMPLE_IDS
        ]

    def refuse_placeholders(self) -> None:
        if found := self.placeholders():
            raise ConfigError(
                f"the config still names the example's placeholder id(s) {'; '.join(found)}: replace each with a real "
                "member or user group id (in Slack: the profile's ⋮ menu > Copy member ID / Copy group ID), then check "
                "them with `accessbot policy check`"
            )


# The ids accessbot.example.yml shows (tests keep this in step with it): a config copied from the example and not
# edited names them, and every approval would then fail with Slack's `no_such_subteam`.
EXAMPLE_IDS = frozenset({"U0123APPROVER", "S0123SECURITY", "S0123ANALYTICS", "S0123DATALEADS", "S0123ONCALL"})


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {key: _expand(item, f"{where}.{key}" if where else str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where} refers to ${{{name}}}, but the environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REFERENCE.sub(lookup, value)
    return value


def _check_keys(value: Any, path: Path, where: str) -> None:
    """YAML reads bare on/off/yes/no as true/false, which then cannot name a setting; say so plainly."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_keys(item, path, f"{where}[{index}]")
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if isinstance(key, bool):
            raise ConfigError(
                f"{path}: under {where or 'the top level'}, a key reads as {str(key).lower()}: YAML takes a bare "
                "on/off/yes/no for true/false. Quote it, or use the setting's name (rules match with `level:`)."
            )
        _check_keys(item, path, f"{where}.{key}" if where else str(key))


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings (approvals_channel, platforms, ...)")
    _check_keys(data, path, "")
    expanded = _expand(data, "")
    assert isinstance(expanded, dict)
    return expanded


def load_settings(config_file: Path | str | None = None) -> Settings:
    """Read `config_file`, or $ACCESSBOT_CONFIG, or ./accessbot.yml if it exists; then the environment."""
    explicit = config_file is not None or CONFIG_ENV in os.environ
    path = Path(config_file or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)
    if path.exists():
        values = read_config_file(path)
    elif explicit:
        raise ConfigError(f"config file {path} does not exist (set by {'--config' if config_file else CONFIG_ENV})")
    else:
        values = {}
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, path if path.exists() else None)) from None


def describe_validation_error(error: ValidationError, path: Path | None) -> str:
    source = str(path) if path else "settings"
    lines = [f"{source} has {error.error_count()} problem(s):"]
    for problem in error.errors():
        parts = [str(part) for part in problem["loc"]]
        if len(parts) > 2 and parts[0] == "platforms" and parts[2] in PLATFORM_TYPES:
            del parts[2]  # the union's tag, which the reader wrote as `type:` one line up
        location = ".".join(parts) or "(top level)"
        if problem["type"] == "extra_forbidden" and parts:
            known = difflib.get_close_matches(parts[-1], _known_keys(), n=1, cutoff=0.75)
            hint = f"; did you mean `{known[0]}`?" if known else ""
            lines.append(f"  - {location}: unknown setting{hint}")
            continue
        lines.append(f"  - {location}: {problem['msg']}")
    lines.append("See accessbot.example.yml for a complete, commented example.")
    return "\n".join(lines)


def _known_keys() -> set[str]:
    """Every setting's name, in every section, for the did-you-mean of an unknown one."""
    keys: set[str] = set()
    pending: list[Any] = [Settings]
    seen: set[Any] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(name)
            keys.update(alias for alias in (field.alias, field.validation_alias) if isinstance(alias, str))
            pending.extend(_models_in(field.annotation))
    return keys


def _models_in(annotation: Any) -> list[Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in getattr(annotation, "__args__", ()) for model in _models_in(argument)]
