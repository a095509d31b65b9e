"""First-party plugin ``ssh``: connections to managed servers."""

from ocore_ssh.plugin import SSHPlugin

plugin = SSHPlugin()
