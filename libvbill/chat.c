/* chat.c: vbill_chat_answer (placeholder, filled below). */
#include "config.h"
#include "hooks.h"
