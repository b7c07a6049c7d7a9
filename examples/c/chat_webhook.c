/*
 * chat_webhook.c: answer a customer's question about their bill from the bill's own values,
 * or, when the library says to escalate (a person was asked for, or no answer fits), queue a
 * chat.requested event for the help desk's webhook and deliver it.
 *
 *   cc chat_webhook.c $(pkg-config --cflags --libs libvbill libcjson) -o chat_webhook
 *   VBILL_WEBHOOK_SECRET=whsec_... ./chat_webhook record.json "question" URL STATE_DIR
 *
 * The event is written durably to STATE_DIR/outbox.sqlite before delivery: if the help desk
 * is down it is retried (and kept as a dead letter after the deadline), even across restarts.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vbill.h>

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20); /* a record is far below 1 MiB */
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    const char *secret = getenv("VBILL_WEBHOOK_SECRET");
    if (argc != 5 || !secret) {
        fprintf(stderr, "usage: VBILL_WEBHOOK_SECRET=whsec_... %s RECORD.json QUESTION "
                        "WEBHOOK_URL STATE_DIR\n", argv[0]);
        return 2;
    }
    char *record = read_file(argv[1]);
    if (!record) {
        perror(argv[1]);
        return 2;
    }
    vbill_ctx *ctx;
    vbill_hooks *hooks = NULL;
    vbill_bill *bill = NULL;
    char *answer_json = NULL, *event_id = NULL, *config = NULL, *data = NULL;
    cJSON *answer = NULL, *conf = NULL;
    int rc = 1;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        return 1;
    if (vbill_bill_new(ctx, record, strlen(record), 0, &bill) != VBILL_OK) {
        fprintf(stderr, "record: %s\n", vbill_ctx_errmsg(ctx));
        goto out;
    }
    /* position_s -1: not watching; now 0: the current time (office hours decide the mode). */
    if (vbill_chat_answer(ctx, bill, argv[2], NULL, -1, 0, &answer_json) != VBILL_OK) {
        fprintf(stderr, "chat: %s\n", vbill_ctx_errmsg(ctx));
        goto out;
    }
    answer = cJSON_Parse(answer_json);
    if (cJSON_IsTrue(cJSON_GetObjectItem(answer, "answered"))) {
        printf("answered (%s): %s\n", cJSON_GetObjectItem(answer, "faq")->valuestring,
               cJSON_GetObjectItem(answer, "answer")->valuestring);
        rc = 0;
        goto out;
    }
    printf("escalated (%s, priority %s): %s\n",
           cJSON_GetObjectItem(answer, "reason")->valuestring,
           cJSON_GetObjectItem(answer, "priority")->valuestring,
           cJSON_GetObjectItem(answer, "reply")->valuestring);

    /* The sink configuration; built with cJSON so any URL or secret is quoted correctly. */
    conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "source", "urn:vbill:example");
    cJSON *sink = cJSON_CreateObject();
    cJSON_AddStringToObject(sink, "type", "webhook");
    cJSON_AddStringToObject(sink, "name", "helpdesk");
    cJSON_AddStringToObject(sink, "url", argv[3]);
    cJSON_AddStringToObject(sink, "secret", secret);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(conf, "sinks"), sink);
    config = cJSON_PrintUnformatted(conf);
    if (vbill_hooks_open(ctx, argv[4], config, &hooks) != VBILL_OK) {
        fprintf(stderr, "hooks: %s\n", vbill_ctx_errmsg(ctx));
        goto out;
    }
    /* answer.event is ready to emit: question, priority, mode, scenario, amounts... */
    const cJSON *event = cJSON_GetObjectItem(answer, "event");
    data = cJSON_PrintUnformatted(cJSON_GetObjectItem(event, "data"));
    if (vbill_hooks_emit(hooks, cJSON_GetObjectItem(event, "type")->valuestring, NULL, data,
                         &event_id) != VBILL_OK) {
        fprintf(stderr, "emit: %s\n", vbill_hooks_errmsg(hooks));
        goto out;
    }
    /* A server would call vbill_hooks_start() once; a program like this one pumps. */
    size_t pending = 1;
    time_t deadline = time(NULL) + 10;
    while (vbill_hooks_pending(hooks, &pending, NULL) == VBILL_OK && pending &&
           time(NULL) <= deadline) {
        size_t delivered = 0;
        if (vbill_hooks_pump(hooks, 1000, &delivered) != VBILL_OK) {
            fprintf(stderr, "pump: %s\n", vbill_hooks_errmsg(hooks));
            goto out;
        }
        if (!delivered)
            nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    if (pending) {
        printf("event %s queued; the help desk did not answer yet\n", event_id);
        goto out;
    }
    printf("event %s delivered to the help desk\n", event_id);
    rc = 0;
out:
    vbill_hooks_free(hooks);
    vbill_bill_free(bill);
    cJSON_Delete(answer);
    cJSON_Delete(conf);
    free(config);
    free(data);
    vbill_free(event_id);
    vbill_free(answer_json);
    vbill_ctx_free(ctx);
    free(record);
    return rc;
}
