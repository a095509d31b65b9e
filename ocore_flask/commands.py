"""The host's own ``ocore`` commands, by name and import path: loaded on first use by the CLI
group, and reserved, so no plugin can declare a command of the same name."""

HOST_COMMANDS = {
    "config": "ocore_flask.cli.config:config_group",
    "plugins": "ocore_flask.cli.plugins:plugins_group",
    "health": "ocore_flask.cli.health:health_command",
    "serve": "ocore_flask.cli.serve:serve_command",
    "dev": "ocore_flask.cli.dev:dev_command",
}
