"""Run the simulator: ``python -m tests.simulator --host 127.0.0.1 --port 0 [--seed FILE] [--record FILE]``.

The first line written to stdout is the base URL (for example ``http://127.0.0.1:43123``).
"""

import argparse
import json
import signal
import sys
import threading

from .server import SimServer, Simulator


def load_seed_file(path):
    """Read a JSON or YAML seed file (YAML needs PyYAML, which ships with ansible-core)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if path.endswith(".json"):
        return json.loads(text)
    try:
        return json.loads(text)
    except ValueError:
        pass
    import yaml  # pylint: disable=import-outside-toplevel
    return yaml.safe_load(text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.simulator", description="DigitalOcean DOCR/DOKS API simulator")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--seed", help="JSON or YAML seed file (format in tests/simulator/README.md)")
    parser.add_argument("--record", help="append every /v2 exchange to this JSONL file (contract validation)")
    parser.add_argument("--data-plane", choices=["simulated", "distribution"], default="simulated",
                        help="'distribution' runs a real docker-registry behind the simulator (see dataplane.py)")
    args = parser.parse_args(argv)

    sim = Simulator(record=args.record)
    if args.seed:
        try:
            sim.seed(load_seed_file(args.seed))
        except (OSError, ValueError, KeyError, TypeError) as err:
            sys.stderr.write("simulator: bad seed %s: %s\n" % (args.seed, err))
            return 2
    try:
        server = SimServer(args.host, args.port, sim)
    except (ValueError, OSError) as err:
        sys.stderr.write("simulator: %s\n" % err)
        return 2

    dataplane = None
    if args.data_plane == "distribution":
        from .dataplane import DataPlaneError, DistributionDataPlane  # pylint: disable=import-outside-toplevel
        dataplane = DistributionDataPlane(realm=server.url + "/registry/token")
        try:
            dataplane.start()
        except DataPlaneError as err:
            dataplane.close()
            server.server_close()
            sys.stderr.write("simulator: %s\n" % err)
            return 2
        sim.attach_dataplane(dataplane)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write(server.url + ("" if dataplane is None else " registry=" + dataplane.address) + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if dataplane is not None:
            dataplane.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
