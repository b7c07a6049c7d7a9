/*
 * store.h: the bill store, what `vbill batch` writes and `vbill serve` reads (SPEC.md
 * sections 6 and 7).  The layout:
 *
 *   STORE/
 *     templates/<name>/            one video template per scenario and locale: the built-in
 *                                  ones as <scenario>.<locale>; a carrier's (--templates) as
 *                                  <scenario>, or <scenario>.<locale> when a locale has its own:
 *                                  template.json, the base video, narration.json when it speaks,
 *                                  and its prepared cache .vbill-prepared/<hash>/ with the shared
 *                                  HLS segments (hls-normal/, hls-slow/)
 *     <YYYY-MM>/                   one folder per cycle (the month of bill.cycle_start)
 *       <bill dir>/                one per subscriber: the id, or "_" + id when the id starts
 *                                  with "." or "_" (so that ".." is a subscriber, never a path)
 *         bill.json                the serialised bill (vbill_bill_to_json): never a birth date
 *         link.json                {"id","url","sms"} of the bill's link (mode 0600)
 *         index.m3u8, pNNNNN.ts    stored mode: the HLS playlist and the personal segments;
 *                                  the shared segments are referenced as <shared>/sNNNNN.ts
 *         captions.vtt             stored mode, a template that speaks: the narration's
 *                                  sentences as WebVTT, timed to the voice (normal speed)
 *         captions-slow.vtt        for a senior besides: the same timed for the slow rendition
 *                                  (times divided by the bill's speed)
 *         bill.mp4                 with --mp4: the whole video (normal speed); for a senior
 *         bill-slow.mp4            also the slow one (their speed, the pitch kept)
 *         .state                   written last: what made the folder (record hash, mode)
 *         .announced               bill.generated has been queued for it
 *       links.jsonl                {"id","url","sms"} per bill (links-I-of-N.jsonl per shard)
 *       rejected.jsonl             {"line","id","error"} per rejected record of the cycle
 *     rejected.jsonl               the rejected records whose cycle cannot be read
 *     _batch/                      per shard I of N: shard-I-of-N.lock (held while it runs),
 *                                  progress-I-of-N.json (counts per cycle, rewritten every few
 *                                  seconds), journal-I-of-N.jsonl (one line per record handled)
 *
 * Every file appears atomically: a bill folder is built as <cycle>/.tmp.<bill dir> and renamed
 * into place; a re-run removes what a killed run left half done.
 */
#ifndef VBILL_CLI_STORE_H
#define VBILL_CLI_STORE_H

#include <stdbool.h>
#include <stddef.h>

#define STORE_TEMPLATES "templates"
#define STORE_BATCH "_batch"

/* The folder name of a subscriber id in a cycle folder (see above); false when the id is not
 * a valid subscriber id. */
bool store_bill_dirname(const char *id, char *out, size_t size);

/* A cycle folder name: exactly "YYYY-MM". */
bool store_valid_cycle(const char *cycle);

/* snprintf into a malloc'd string (NULL on allocation failure). */
char *store_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* mkdir -p with mode; 0 or -1 (errno). */
int store_mkdirs(const char *path, unsigned mode);

/* rm -rf without following symbolic links (best effort). */
void store_rmtree(const char *path);

/* Writes a file atomically (the temporary name DIR/.NAME.tmp, fsync, rename) with the given
 * mode; 0 or -1 with errno.  The caller must own the path: no other process writes it at
 * the same time (the shard's or the template's lock). */
int store_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* fsync of a directory (after renames in it). */
void store_sync_dir(const char *path);

/* The path prefix of a link base URL's parent: "/v/" gives "/", "https://h/x/v/" gives
 * "https://h/x/".  The shared segments of template HASH are served at <that>s/HASH/. */
char *store_shared_prefix(const char *base_url);

#endif
