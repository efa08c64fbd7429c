/* progress.c - a progress bar on stderr, only when stderr is a terminal.
 *
 * The bar is redrawn at most ten times a second, so calling update for
 * every record costs a clock read; finish erases the line, leaving the
 * terminal as it was. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "util.h"

struct cli_progress {
    char label[32];
    int64_t total;
    int64_t start_us;
    int64_t last_draw_us;
    int width;                  /* terminal columns */
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

cli_progress *cli_progress_start(const char *label, int64_t total)
{
    if (!isatty(STDERR_FILENO))
        return NULL;
    cli_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    p->start_us = mono_us();
    p->last_draw_us = 0;
    struct winsize ws;
    p->width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0
             ? ws.ws_col : 80;
    return p;
}

void cli_progress_update(cli_progress *p, int64_t done)
{
    if (!p)
        return;
    int64_t now = mono_us();
    if (p->last_draw_us && now - p->last_draw_us < 100000)
        return;
    p->last_draw_us = now;
    if (p->total <= 0) {
        fprintf(stderr, "\r%s %lld\033[K", p->label, (long long)done);
        fflush(stderr);
        return;
    }
    if (done > p->total)
        done = p->total;
    double frac = (double)done / (double)p->total;
    /* "label [bar] 100% ETA 12s": the bar takes what the rest leaves. */
    char eta[32] = "";
    double elapsed = (double)(now - p->start_us) / 1e6;
    if (frac > 0.01 && elapsed > 0.5)
        snprintf(eta, sizeof eta, " ETA %.0fs", elapsed / frac - elapsed);
    int bar_w = p->width - (int)strlen(p->label) - (int)strlen(eta) - 10;
    if (bar_w > 50)
        bar_w = 50;
    char bar[3 * 50 + 8];
    if (bar_w < 5)
        bar_w = 0;
    cli_bar(bar, sizeof bar, frac, 1.0, bar_w);
    /* Pad the bar to its full width with spaces (3-byte characters). */
    size_t cells = 0;
    for (const char *c = bar; *c; c++)
        if (((unsigned char)*c & 0xC0) != 0x80)
            cells++;
    fprintf(stderr, "\r%s %s%*s %3d%%%s\033[K", p->label, bar,
            bar_w - (int)cells, "", (int)(frac * 100), eta);
    fflush(stderr);
}

void cli_progress_finish(cli_progress *p)
{
    if (!p)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    free(p);
}
