import signal
import sys

from . import progress

progress.install()  # first: a signal during the imports below is an interruption too, with its message

from .cli import main  # noqa: E402

code = main()
# The work is done: a signal during interpreter shutdown (cdk8s stopping its Node.js process) changes nothing.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.exit(code)
