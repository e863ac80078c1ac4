"""The yardstick for the ack-latency benchmark: a Bolt app whose `/access` only acknowledges, behind the same HTTP
server `accessbot serve` uses, checking signatures and authorising against the same Slack Web API.

It runs in the bot's mode, `process_before_response`: in Bolt's default mode the request thread polls for the
acknowledgement every 10 ms, which would add about 10 ms to each of its answers and flatter the bot by comparison.

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=... python -m benchmarks.bare_bolt --port 3001
"""

from __future__ import annotations

import argparse
import os

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.server import HttpServer


def bare_app() -> App:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], process_before_response=True)

    @app.command("/access")
    def only_ack(ack: Ack) -> None:
        ack()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    HttpServer(bare_app(), host="127.0.0.1", port=args.port).serve_forever()


if __name__ == "__main__":
    main()
