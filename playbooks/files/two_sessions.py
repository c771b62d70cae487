"""Demo and Molecule verify helper: two sessions started with ``vipctl run`` each bind 0.0.0.0:PORT.

Both servers hold their sockets at the same time (each waits on stdin until both reported),
then exit. Prints ``{"1": {...}, "2": {...}}`` with each server's getsockname and the engine's
placement answer.
"""

import argparse
import json
import select
import shlex
import subprocess

SERVER = (
    "import json, socket, sys\n"
    "s = socket.socket()\n"
    "s.bind(('0.0.0.0', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print(json.dumps(list(s.getsockname())), flush=True)\n"
    "sys.stdin.read()\n"
)

parser = argparse.ArgumentParser()
for opt in ("--netns", "--vipctl", "--socket", "--python", "--port"):
    parser.add_argument(opt, required=True)
args = parser.parse_args()
procs = {}
for session in ("1", "2"):
    procs[session] = subprocess.Popen(
        [
            "nsenter",
            f"--net=/run/netns/{args.netns}",
            *shlex.split(args.vipctl),
            "--socket",
            args.socket,
            "run",
            "--session",
            session,
            "--json",
            "--",
            args.python,
            "-c",
            SERVER,
            args.port,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
result = {}
for session, proc in procs.items():
    placed = None
    while placed is None:
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        line = proc.stderr.readline() if ready else ""
        if not line:
            raise SystemExit(f"session {session}: vipctl run failed: {proc.stderr.read()}")
        if line.startswith("{"):
            placed = json.loads(line)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise SystemExit(f"session {session}: the server did not bind: {proc.stderr.read()}")
    result[session] = {"sockname": json.loads(line), "placed": placed}
for proc in procs.values():
    proc.communicate("")
print(json.dumps(result, sort_keys=True))
