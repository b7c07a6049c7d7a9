/*
 * espeak.c: espeak-ng run as a separate program (it is GPL: never linked).  One process per
 * text, started with posix_spawn (no shell; safe in a threaded host, and it does not copy
 * a large host's page tables as fork would), an argument vector, the text written to its
 * standard input, the WAV read from its standard output, its standard error kept for the
 * message, all under one deadline; the child is killed when the deadline passes.
 *
 * The text goes through a socket pair rather than a pipe: send(MSG_NOSIGNAL) cannot raise
 * SIGPIPE in the host when espeak-ng exits before reading it all, and a library must not
 * change the host's signal handling.
 */
#include "config.h"
#include "voice/voice.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_WAV ((size_t)64 << 20) /* about 25 minutes of espeak-ng's 22 kHz speech */

bool vb_program_find(const char *program, char *path, size_t size)
{
    struct stat st;
    if (strchr(program, '/')) {
        snprintf(path, size, "%s", program);
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
    }
    const char *dirs = getenv("PATH");
    if (!dirs || !*dirs)
        dirs = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = dirs;;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(path, size, "%.*s%s%s", (int)n, p, n ? "/" : "", program);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
            return true;
        if (!colon)
            return false;
        p = colon + 1;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The first line of the child's standard error, printable ASCII only, for a message. */
static void first_line(const char *err, size_t n, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n && err[i] != '\n' && k + 1 < size; i++)
        out[k++] = err[i] >= 0x20 && err[i] < 0x7f ? err[i] : '?';
    out[k] = '\0';
}

vbill_status vb_espeak_run(vbill_ctx *ctx, const char *program, const char *voice, int wpm,
                           const char *text, int timeout_ms, uint8_t **wav, size_t *wav_len)
{
    *wav = NULL;
    *wav_len = 0;
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 ||
        pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            close_fd(&in[i]);
            close_fd(&out[i]);
            close_fd(&err[i]);
        }
        return vb_error(ctx, VBILL_ERR_IO, "espeak-ng: cannot make pipes: %s", strerror(e));
    }
    /* posix_spawn takes char *const argv[]: writable copies of every argument. */
    char a_prog[4096], a_voice[16], a_rate[16], a_v[] = "-v", a_s[] = "-s", a_b[] = "-b",
                                                 a_utf8[] = "1", a_in[] = "--stdin",
                                                 a_out[] = "--stdout";
    snprintf(a_prog, sizeof a_prog, "%s", program);
    snprintf(a_voice, sizeof a_voice, "%s", voice);
    snprintf(a_rate, sizeof a_rate, "%d", wpm);
    char *argv[] = {a_prog, a_v, a_voice, a_s, a_rate, a_b, a_utf8, a_in, a_out, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* the host's descriptors stay home */
#endif
    /* The child starts with default signal handling and nothing blocked, whatever the host
     * does with its own. */
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    const int sigs[] = {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1,
                        SIGUSR2};
    for (size_t i = 0; i < VB_ARRAY_LEN(sigs); i++)
        sigaddset(&defaults, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int r = strchr(program, '/') ? posix_spawn(&pid, program, &fa, &attr, argv, environ)
                                 : posix_spawnp(&pid, program, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close_fd(&in[1]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    if (r != 0) {
        close_fd(&in[0]);
        close_fd(&out[0]);
        close_fd(&err[0]);
        if (r == ENOENT || r == EACCES || r == ENOEXEC)
            return vb_error(ctx, VBILL_ERR_NOT_FOUND,
                            "espeak-ng: cannot run '%s' (%s): install Debian's espeak-ng "
                            "(apt-get install espeak-ng) or give the program's path",
                            program, strerror(r));
        return vb_error(ctx, VBILL_ERR_IO, "espeak-ng: cannot start '%s': %s", program,
                        strerror(r));
    }
    fcntl(in[0], F_SETFL, fcntl(in[0], F_GETFL) | O_NONBLOCK);
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);

    vb_buf wavbuf = {0};
    char errtext[512];
    size_t errlen = 0, text_len = strlen(text), sent = 0;
    int64_t deadline = now_ms() + timeout_ms;
    bool timed_out = false, too_big = false;
    vbill_status st = VBILL_OK;
    if (text_len == 0)
        close_fd(&in[0]);
    while (out[0] >= 0 || err[0] >= 0) {
        struct pollfd p[3];
        int np = 0, iw = -1, io = -1, ie = -1;
        if (in[0] >= 0)
            p[iw = np++] = (struct pollfd){.fd = in[0], .events = POLLOUT};
        if (out[0] >= 0)
            p[io = np++] = (struct pollfd){.fd = out[0], .events = POLLIN};
        if (err[0] >= 0)
            p[ie = np++] = (struct pollfd){.fd = err[0], .events = POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int n = poll(p, (nfds_t)np, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR) {
            st = vb_error(ctx, VBILL_ERR_IO, "espeak-ng: poll: %s", strerror(errno));
            break;
        }
        if (n <= 0)
            continue;
        if (iw >= 0 && p[iw].revents) {
            ssize_t w = send(in[0], text + sent, text_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
            /* Done, or the child stopped reading (EPIPE): either way it has all it takes. */
            if (sent == text_len || (w < 0 && errno != EAGAIN && errno != EINTR))
                close_fd(&in[0]);
        }
        if (io >= 0 && p[io].revents) {
            char chunk[65536];
            ssize_t k = read(out[0], chunk, sizeof chunk);
            if (k > 0) {
                if (wavbuf.len + (size_t)k > MAX_WAV) {
                    too_big = true;
                    break;
                }
                vb_buf_append(&wavbuf, chunk, (size_t)k);
            } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_fd(&out[0]);
            }
        }
        if (ie >= 0 && p[ie].revents) {
            char chunk[4096];
            ssize_t k = read(err[0], chunk, sizeof chunk);
            if (k > 0) {
                size_t keep = sizeof errtext - errlen < (size_t)k ? sizeof errtext - errlen
                                                                   : (size_t)k;
                memcpy(errtext + errlen, chunk, keep);
                errlen += keep;
            } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_fd(&err[0]);
            }
        }
    }
    close_fd(&in[0]);
    close_fd(&out[0]);
    close_fd(&err[0]);
    if (timed_out || too_big || st)
        kill(pid, SIGKILL);
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    /* ECHILD: the host reaps its children itself (SIGCHLD ignored); judge by the output. */
    bool exited_ok = w < 0 ? errno == ECHILD : WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char line[256];
    first_line(errtext, errlen, line, sizeof line);
    if (st) {
        /* already reported */
    } else if (timed_out) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "espeak-ng took longer than %d ms (killed)",
                      timeout_ms);
    } else if (too_big) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "espeak-ng wrote more than %zu bytes (killed)",
                      MAX_WAV);
    } else if (wavbuf.failed) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    } else if (!exited_ok) {
        if (w >= 0 && WIFSIGNALED(status))
            st = vb_error(ctx, VBILL_ERR_MEDIA, "espeak-ng was killed by signal %d%s%s",
                          WTERMSIG(status), line[0] ? ": " : "", line);
        else
            st = vb_error(ctx, VBILL_ERR_MEDIA, "espeak-ng (voice %s) failed with status %d%s%s",
                          voice, WEXITSTATUS(status), line[0] ? ": " : "", line);
    } else if (!wavbuf.len) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "espeak-ng (voice %s) wrote no WAV%s%s", voice,
                      line[0] ? ": " : "", line);
    }
    if (st) {
        vb_buf_free(&wavbuf);
        return st;
    }
    *wav_len = wavbuf.len;
    *wav = (uint8_t *)vb_buf_take(&wavbuf);
    return VBILL_OK;
}
