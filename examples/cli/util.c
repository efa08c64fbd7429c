/* util.c - helpers shared by the `cano` command's subcommands. */
#define _GNU_SOURCE           /* vasprintf, timegm */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "cli.h"
#include "util.h"

int64_t cli_lock_timeout_ms;
const char *cli_store_dir = "";
volatile sig_atomic_t cli_stop;

static void on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;      /* no SA_RESTART: reads return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- Errors ---- */

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("cano: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_lib_fail(int rc, const char *fmt, ...)
{
    /* Copy the detail first: it is valid only until the next cano_ call. */
    char detail[512];
    snprintf(detail, sizeof detail, "%s", cano_last_errmsg());
    va_list ap;
    fputs("cano: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s", cano_strerror(rc));
    if (detail[0])
        fprintf(stderr, " (%s)", detail);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_usage_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cano %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'cano DIR %s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_bad_option(const char *cmd, char **argv, int c)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char name[128];
    /* An unknown long option leaves optopt 0; a long option missing its
     * argument is the previous argument.  Otherwise name the letter. */
    if ((c == '?' && optopt == 0) || (c == ':' && strncmp(arg, "--", 2) == 0))
        snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(name, sizeof name, "-%c", optopt);
    if (c == ':')
        return cli_usage_fail(cmd, "option '%s' needs an argument", name);
    return cli_usage_fail(cmd, "unknown option '%s'", name);
}

void cli_getopt_reset(void)
{
#ifdef __GLIBC__
    optind = 0;         /* glibc: 0 also resets its internal state */
#else
    optind = 1;
#endif
    opterr = 0;
}

/* ---- The store ---- */

int cli_open(const char *dir, int must_exist, cano_t **out)
{
    cano_options o;
    cano_options_init(&o, sizeof o);
    if (must_exist)
        o.flags |= CANO_OPEN_MUST_EXIST;
    int64_t waited = 0;
    for (;;) {
        int rc = cano_open(dir, &o, out);
        if (rc == CANO_OK)
            return CLI_OK;
        if (rc == CANO_ELOCKED && waited < cli_lock_timeout_ms) {
            cli_sleep_ms(50);
            waited += 50;
            continue;
        }
        cli_lib_fail(rc, "open %s", dir);
        if (rc == CANO_ELOCKED)
            fprintf(stderr, "cano: another process has this store open; "
                    "a store is used by one process at a time.\n"
                    "cano: stop that process, or wait for it with "
                    "'cano --lock-timeout MS %s ...'.\n", dir);
        else if (rc == CANO_ENOTFOUND)
            fprintf(stderr, "cano: no store at %s; 'cano %s topic create "
                    "TOPIC' creates one.\n", dir, dir);
        return CLI_FAIL;
    }
}

int cli_close(cano_t *db, int rc)
{
    int crc = cano_close(db);
    if (crc != CANO_OK) {
        cli_lib_fail(crc, "close %s", cli_store_dir);
        return CLI_FAIL;
    }
    return rc;
}

int cli_topic_open(cano_t *db, const char *name, cano_topic_t **out)
{
    int rc = cano_topic_open(db, name, out);
    if (rc == CANO_OK)
        return CLI_OK;
    cli_lib_fail(rc, "topic '%s'", name);
    return CLI_FAIL;
}

/* ---- Parsing ---- */

int cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parses digits followed by a unit from units[] (name, multiplier). */
typedef struct unit { const char *name; int64_t mul; } unit;

static int parse_scaled(const char *s, const unit *units, int64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return -1;
    int64_t mul = 1;
    if (*end) {
        const unit *u = units;
        while (u->name && strcasecmp(u->name, end) != 0)
            u++;
        if (!u->name)
            return -1;
        mul = u->mul;
    }
    if (v > INT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static const unit size_units[] = {
    { "k", 1024 }, { "m", 1024 * 1024 }, { "g", 1024 * 1024 * 1024 },
    { "kib", 1024 }, { "mib", 1024 * 1024 }, { "gib", 1024 * 1024 * 1024 },
    { NULL, 0 }
};
static const unit time_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
    { "h", 3600000 }, { "d", 86400000 }, { "w", 7 * 86400000LL },
    { NULL, 0 }
};

int cli_parse_size(const char *s, int64_t *out)
{
    if (s && strcmp(s, "-1") == 0) {
        *out = -1;
        return 0;
    }
    return parse_scaled(s, size_units, out);
}

int cli_parse_duration(const char *s, int64_t *out)
{
    if (s && strcmp(s, "-1") == 0) {
        *out = -1;
        return 0;
    }
    return parse_scaled(s, time_units, out);
}

/* Reads exactly n digits at *p into *v, advancing *p. */
static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 0;
}

static int parse_iso(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
        *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if ((*p == 'T' || *p == ' ') && isdigit((unsigned char)p[1])) {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.' || *p == ',') {
                p++;
                int scale = 100;
                if (!isdigit((unsigned char)*p))
                    return -1;
                for (; isdigit((unsigned char)*p); p++, scale /= 10)
                    ms += (*p - '0') * scale;
            }
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = { 0 };
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t;
    if (*p == 0) {
        tm.tm_isdst = -1;               /* local time, as date(1) reads it */
        t = mktime(&tm);
    } else {
        long off = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (*p && digits(&p, 2, &om))
                return -1;
            off = sign * (oh * 3600L + om * 60L);
        } else {
            return -1;
        }
        if (*p)
            return -1;
        t = timegm(&tm) - off;
    }
    if (t < 0)
        return -1;
    *out = (int64_t)t * 1000 + ms;
    return 0;
}

int cli_parse_time(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    int64_t now = cli_now_ms(), d;
    const char *rel = NULL;
    if (strncmp(s, "now", 3) == 0) {
        if (s[3] == 0) {
            *out = now;
            return 0;
        }
        rel = s + 3;
    } else if (s[0] == '-' || s[0] == '+') {
        rel = s;
    }
    if (rel) {
        if ((rel[0] != '-' && rel[0] != '+') ||
            parse_scaled(rel + 1, time_units, &d))
            return -1;
        *out = rel[0] == '-' ? now - d : now + d;
        return *out >= 0 ? 0 : -1;
    }
    if (strspn(s, "0123456789") == strlen(s))
        return cli_parse_i64(s, 0, INT64_MAX, out);
    return parse_iso(s, out);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cli_parse_escapes(const char *s, char **out, size_t *len)
{
    size_t n = 0;
    char *b = malloc(strlen(s) + 1);
    if (!b)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p != '\\') {
            b[n++] = *p;
            continue;
        }
        switch (*++p) {
        case '\\': b[n++] = '\\'; break;
        case 't':  b[n++] = '\t'; break;
        case 'n':  b[n++] = '\n'; break;
        case 'r':  b[n++] = '\r'; break;
        case '0':  b[n++] = '\0'; break;
        case 'x': {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0) {
                free(b);
                return -1;
            }
            b[n++] = (char)(hi * 16 + lo);
            p += 2;
            break;
        }
        default:
            free(b);
            return -1;
        }
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_format_time(int64_t ms, char *buf, size_t n)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&secs, &tm)) {
        snprintf(buf, n, "-");
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03dZ", date, (int)(ms % 1000));
}

void cli_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- Output encodings ---- */

/* Length of the well-formed UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;           /* overlong */
        if (c == 0xED) hi = 0x9F;           /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;           /* overlong */
        if (c == 0xF4) hi = 0x8F;           /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

int cli_utf8_valid(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(b + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

void cli_put_text(FILE *f, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n;) {
        unsigned char c = b[i];
        size_t l = c >= 0x80 ? utf8_seq(b + i, n - i) : 1;
        if (c >= 0x80 && l) {
            fwrite(b + i, 1, l, f);
            i += l;
            continue;
        }
        if (c == '\\')
            fputs("\\\\", f);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c >= 0x20 && c < 0x7F)
            putc(c, f);
        else
            fprintf(f, "\\x%02x", c);
        i++;
    }
}

void cli_put_json_string(FILE *f, const void *p, size_t n)
{
    const unsigned char *b = p;
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        switch (c) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                putc(c, f);
        }
    }
    putc('"', f);
}

void cli_put_json_bytes(FILE *f, const void *p, size_t n)
{
    if (!p) {
        fputs("null", f);
    } else if (cli_utf8_valid(p, n)) {
        cli_put_json_string(f, p, n);
    } else {
        fputs("{\"base64\":\"", f);
        cli_put_base64(f, p, n);
        fputs("\"}", f);
    }
}

void cli_put_base64(FILE *f, const void *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        putc(tab[v >> 18], f);
        putc(tab[(v >> 12) & 63], f);
        putc(tab[(v >> 6) & 63], f);
        putc(tab[v & 63], f);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)b[i] << 16;
        putc(tab[v >> 18], f);
        putc(tab[(v >> 12) & 63], f);
        fputs("==", f);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8;
        putc(tab[v >> 18], f);
        putc(tab[(v >> 12) & 63], f);
        putc(tab[(v >> 6) & 63], f);
        putc('=', f);
    }
}

/* ---- Aligned tables ---- */

struct cli_table {
    int ncols;
    char align[32];
    char **cells;
    size_t n, cap;
};

cli_table *cli_table_new(int ncols, const char *align)
{
    cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols < 32 ? ncols : 31;
    snprintf(t->align, sizeof t->align, "%s", align);
    return t;
}

void cli_table_cell(cli_table *t, const char *fmt, ...)
{
    if (!t)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **c = realloc(t->cells, cap * sizeof *c);
        if (!c)
            return;
        t->cells = c;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&t->cells[t->n], fmt, ap) < 0)
        t->cells[t->n] = NULL;
    va_end(ap);
    t->n++;
}

/* Display width: UTF-8 characters (every cell's characters are narrow). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void cli_table_print(cli_table *t, FILE *f, const char *indent)
{
    if (!t)
        return;
    size_t width[32] = { 0 };
    int nc = t->ncols;
    for (size_t i = 0; i < t->n; i++) {
        size_t w = t->cells[i] ? text_width(t->cells[i]) : 0;
        if (w > width[i % nc])
            width[i % nc] = w;
    }
    for (size_t r = 0; f && r * nc < t->n; r++) {
        /* Pad into a line buffer, then drop trailing spaces. */
        char *line = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&line, &len);
        if (!m)
            break;
        for (int c = 0; c < nc && r * nc + c < t->n; c++) {
            const char *s = t->cells[r * nc + c];
            s = s ? s : "";
            size_t pad = width[c] - text_width(s);
            if (c > 0)
                fputs("  ", m);
            if (t->align[c] == 'r')
                fprintf(m, "%*s%s", (int)pad, "", s);
            else
                fprintf(m, "%s%*s", s, (int)pad, "");
        }
        fclose(m);
        while (len > 0 && line[len - 1] == ' ')
            line[--len] = 0;
        fprintf(f, "%s%s\n", indent, line);
        free(line);
    }
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void cli_bar(char *buf, size_t n, double value, double max, int width)
{
    /* U+2588 is a full block; U+2589..U+258F are 7/8 down to 1/8. */
    static const char *const part[8] = {
        "", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589"
    };
    size_t len = 0;
    buf[0] = 0;
    if (max <= 0 || value <= 0 || n < 4)
        return;
    long eighths = (long)(value / max * width * 8 + 0.5);
    if (eighths < 1)
        eighths = 1;                        /* nonzero stays visible */
    if (eighths > (long)width * 8)
        eighths = (long)width * 8;
    for (long i = 0; i < eighths / 8 && len + 4 <= n; i++) {
        memcpy(buf + len, "\u2588", 3);
        len += 3;
    }
    const char *p = part[eighths % 8];
    if (len + strlen(p) + 1 <= n) {
        memcpy(buf + len, p, strlen(p));
        len += strlen(p);
    }
    buf[len] = 0;
}
