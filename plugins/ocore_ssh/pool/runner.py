"""fabric plumbing: a remote runner whose timeout kills the command, and the pooled Connection."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

import paramiko
from fabric import Config, Connection
from fabric.runners import Remote
from paramiko.common import cMSG_CHANNEL_REQUEST

from .errors import ConnectionLost


class SignallingRemote(Remote):
    """fabric's remote runner, but a timeout also signals the remote process group."""

    killed = False

    @property
    def timed_out(self) -> bool:
        """True once the timeout fired (invoke's own check races with a still-running kill)."""
        return self.killed or super().timed_out

    def wait(self) -> None:
        """Block until the command exits: woken by the exit status, not invoke's 10 ms polling."""
        channel = getattr(self, "channel", None)
        while not (self.process_is_finished or self.has_dead_threads):
            if channel is None:
                time.sleep(self.input_sleep)
            else:
                # Set by paramiko on exit-status and on close; the timeout re-checks threads.
                channel.status_event.wait(self.input_sleep)

    def kill(self) -> None:
        """Send SIGKILL to the remote command (RFC 4254 "signal"), then close the channel."""
        # Only invoke's timeout timer calls kill(); flag it before the command can finish.
        self.killed = True
        channel = getattr(self, "channel", None)
        if channel is not None:
            signal_channel(channel, "KILL")


def signal_channel(channel: paramiko.Channel, name: str) -> None:
    """Send signal ``name`` to a session's remote command (RFC 4254 "signal"), then close the
    channel; errors are ignored (the transport may already be gone: nothing left to stop)."""
    # paramiko has no public API for the "signal" request; OpenSSH >= 7.9 honours it for
    # command sessions, so the remote command does not outlive its timeout.
    with suppress(Exception):
        msg = paramiko.Message()
        msg.add_byte(cMSG_CHANNEL_REQUEST)
        msg.add_int(channel.remote_chanid)
        msg.add_string("signal")
        msg.add_boolean(False)
        msg.add_string(name)
        channel.transport._send_user_message(msg)
    with suppress(Exception):
        channel.close()


class PooledConnection(Connection):
    """A fabric Connection that counts opened sessions and never reconnects on its own."""

    # Class-level declarations make these plain attributes (fabric proxies unknown ones to config).
    sessions_opened = 0
    opened_once = False

    def open(self) -> Any:
        """Connect once; after that a dead transport is the pool's business, not fabric's."""
        if self.is_connected:
            return None
        if self.opened_once:
            raise ConnectionLost("SSH connection is no longer active")
        self.opened_once = True
        return super().open()

    def create_session(self) -> paramiko.Channel:
        """Open a session channel, counting it (a failure before that means nothing ran)."""
        channel = super().create_session()
        self.sessions_opened += 1
        return channel


def fabric_config() -> Config:
    """A fabric config that loads no files (ssh_config, fabric.yaml) and runs quietly."""
    return Config(
        lazy=True,
        ssh_config=paramiko.SSHConfig(),
        overrides={
            "load_ssh_configs": False,
            "forward_agent": False,
            "inline_ssh_env": True,
            "connect_kwargs": {},
            "authentication": {"strategy_class": None, "identities": []},
            "timeouts": {"connect": None, "command": None},
            "runners": {"remote": SignallingRemote},
            "run": {"hide": True, "warn": True, "echo": False, "pty": False, "in_stream": False},
        },
    )


def transport_alive(conn: Connection) -> bool:
    transport = conn.transport
    return transport is not None and transport.is_active()
