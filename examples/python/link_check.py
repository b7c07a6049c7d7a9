#!/usr/bin/env python3
"""link_check.py: make a subscriber's bill, issue its signed link, verify it, build the SMS,
then run the customer's birth-date check (a wrong try, then the right one), verify the
session, and re-issue the link as the help desk would (the old one is then revoked).

    python3 link_check.py record.json 580314 /var/lib/vbill

In production the key file is made once (`vbill keygen --out keys.json`: created 0600; a key
file that group or others may read, or a symlink, is refused) and shared by every viewer
server: ctx.load_keys("keys.json"), with keys.load_peppers("peppers.json") when the peppers
are kept apart (`vbill keygen --out keys.json --pepper-out peppers.json`).  Here a fresh key
set is generated.
"""
import sys

import vbill


def main(record_path: str, digits: str, state_dir: str) -> int:
    with open(record_path, encoding="utf-8") as f:
        record = f.read()
    with vbill.Context() as ctx, \
            ctx.keys_from_json(ctx.generate_keys()) as keys, \
            ctx.open_store(state_dir) as store, \
            ctx.bill(record) as bill:  # the record validated, classified and filled once
        # Every step below takes the bill.  It holds the birth date in memory only, to issue
        # the link: bill.to_json() (what a batch stores) never carries it.
        token = ctx.link_issue(keys, bill, ttl_seconds=7 * 86400)
        print("link issued (%d characters)" % len(token))
        # What a viewer server does first with a token from a URL (with its store, so that a
        # revoked link is refused): no personal data comes back.
        info = ctx.link_verify_store(keys, store, token)
        print("verified: subscriber %s, scenario %s, expires %s"
              % (info["subscriber"], info["scenario"], info["expires"]))
        print("sms: %s" % ctx.message_build(bill, "https://bill.example.com/v/" + token))

        # The customer types six digits; a wrong try is refused and counted.  The client is
        # the address the server saw (or its own proxy verified): required.
        try:
            ctx.auth_check(keys, store, token, "000000", client="203.0.113.7")
            print("wrong digits refused: NO")
        except vbill.AuthWrongError as e:
            print("wrong digits refused: yes (%s)" % e.message)
        try:
            session = ctx.auth_check(keys, store, token, digits, client="203.0.113.7")
        except vbill.Error as e:   # AuthWrongError, AuthLockedError, LinkExpiredError, ...
            print("check: %s" % e, file=sys.stderr)
            return 1
        print("check passed: session issued")
        ctx.session_verify(keys, session, token, client="203.0.113.7", store=store)
        print("session verified")

        # The help desk re-issues the link (a new phone, say): the old link and its sessions
        # are revoked in the store; the new one shares the subscriber's bound (no new guesses).
        new_token = ctx.link_reissue(keys, store, token, bill, ttl_seconds=7 * 86400)
        try:
            ctx.link_verify_store(keys, store, token)
            print("old link revoked: NO")
        except vbill.LinkExpiredError as e:
            print("old link revoked: yes (%s)" % e.message)
        try:
            ctx.session_verify(keys, session, token, client="203.0.113.7", store=store)
            print("old session revoked: NO")
        except vbill.SessionError:
            print("old session revoked: yes")
        ctx.link_verify_store(keys, store, new_token)
        print("new link verified")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: %s RECORD.json DIGITS STATE_DIR" % sys.argv[0])
    sys.exit(main(*sys.argv[1:]))
