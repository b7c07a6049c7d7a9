#!/usr/bin/env python3
"""chat_webhook.py: answer a customer's question about their bill from the bill's own values,
or, when the library says to escalate (a person was asked for, or no answer fits), queue a
chat.requested event for the help desk's webhook and deliver it.

    VBILL_WEBHOOK_SECRET=whsec_... python3 chat_webhook.py record.json "question" URL STATE_DIR

The event is written durably to STATE_DIR/outbox.sqlite before delivery: if the help desk is
down it is retried (and kept as a dead letter after the deadline), even across restarts.
Try it with examples/python/webhook_receiver.py as the help desk.
"""
import os
import sys
import time

import vbill


def main(record_path: str, question: str, url: str, state_dir: str) -> int:
    with open(record_path, encoding="utf-8") as f:
        record = f.read()
    config = {"source": "urn:vbill:example",
              "sinks": [{"type": "webhook", "name": "helpdesk", "url": url,
                         "secret": os.environ["VBILL_WEBHOOK_SECRET"],
                         "events": ["chat.*"]}]}
    with vbill.Context() as ctx:
        with ctx.bill(record) as bill:  # the record validated, classified and filled once
            answer = ctx.chat_answer(bill, question)
        if answer["answered"]:
            print("answered (%s): %s" % (answer["faq"], answer["answer"]))
            return 0
        print("escalated (%s, priority %s): %s"
              % (answer["reason"], answer["priority"], answer["reply"]))
        with ctx.open_hooks(state_dir, config) as hooks:
            event = answer["event"]  # ready to emit: question, priority, amounts, ...
            event_id = hooks.emit(event["type"], event["data"])
            # A server would call hooks.start() once; a script pumps until delivered.
            deadline = time.monotonic() + 10
            while hooks.pending()[0] and time.monotonic() < deadline:
                hooks.pump(1000)
                time.sleep(0.05)
            if hooks.pending()[0]:
                print("event %s queued; the help desk did not answer yet" % event_id)
                return 1
            print("event %s delivered to the help desk" % event_id)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: %s RECORD.json QUESTION WEBHOOK_URL STATE_DIR" % sys.argv[0])
    sys.exit(main(*sys.argv[1:]))
