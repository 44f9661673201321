"""Stand-in for pip's get-pip.py, which ansible-test downloads from a host this machine cannot reach.

ansible-test runs it inside a fresh sanity venv with get-pip's arguments (packages to install plus
--no-setuptools/--no-wheel); we bootstrap pip from the interpreter's own ensurepip and install from PyPI.
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + args)
