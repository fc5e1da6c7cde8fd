"""What the trainer tests share: named checks that print and collect their
failures, and commands run with their status and output."""
import subprocess

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args):
    """(status, stdout, stderr) of a command; arguments may be paths or numbers."""
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr
