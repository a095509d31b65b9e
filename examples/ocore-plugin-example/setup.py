"""An example third-party ocore plugin, installed on its own like any outside distribution."""

from setuptools import setup

setup(
    name="ocore-plugin-example",
    version="0.1.0",
    description="Example ocore-flask plugin: a setting, a health section, a command.",
    packages=["ocore_plugin_example"],
    python_requires=">=3.11",
    install_requires=["ocore-flask"],
    entry_points={"ocore_flask.plugins": ["example = ocore_plugin_example:plugin"]},
)
