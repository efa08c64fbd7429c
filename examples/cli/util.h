/* util.h - helpers shared by the `cano` command's subcommands (prefix cli_):
 * error reporting, opening a store, parsing numbers, sizes, durations and
 * times, escaping bytes for text and JSON, and aligned tables. */
#ifndef CANO_CLI_UTIL_H
#define CANO_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <cano.h>

/* The command's version is the library's it was built with. */
#define CLI_STR_(x) #x
#define CLI_STR(x) CLI_STR_(x)
#define CANO_CLI_VERSION CLI_STR(CANO_VERSION_MAJOR) "." \
    CLI_STR(CANO_VERSION_MINOR) "." CLI_STR(CANO_VERSION_PATCH)

/* The global option --lock-timeout: how long cli_open waits for a store
 * another process holds (0 = fail at once). */
extern int64_t cli_lock_timeout_ms;
/* The store directory as given on the command line, for messages. */
extern const char *cli_store_dir;

/* Set by SIGINT and SIGTERM once cli_catch_signals() ran. */
extern volatile sig_atomic_t cli_stop;
/** Makes SIGINT and SIGTERM set cli_stop (interrupting a blocking read or
 *  sleep instead of killing the process) and ignores SIGPIPE, so that
 *  commands close the store cleanly. */
void cli_catch_signals(void);

/* ---- Errors ---- */

/** Prints "cano: <message>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Prints "cano: <what>: <cano_strerror(rc)> (<cano_last_errmsg()>)" on
 *  stderr (the parenthesis only when there is a detail); returns CLI_FAIL. */
int cli_lib_fail(int rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Prints "cano <cmd>: <message>" and a pointer to --help on stderr;
 *  returns CLI_USAGE. */
int cli_usage_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Reports what getopt_long rejected (c is '?' or ':'); returns CLI_USAGE.
 *  Option strings must start with ':' (after any '+'). */
int cli_bad_option(const char *cmd, char **argv, int c);
/** Makes the next getopt_long call start over at argv[1]. */
void cli_getopt_reset(void);

/* ---- The store ---- */

/** Opens dir (with CANO_OPEN_MUST_EXIST when must_exist), waiting up to
 *  cli_lock_timeout_ms for the lock.  Prints the error, with a hint for a
 *  locked or missing store.  @return CLI_OK or CLI_FAIL. */
int cli_open(const char *dir, int must_exist, cano_t **out);
/** Closes db; prints an error when the close fails.  @return rc or
 *  CLI_FAIL when the close failed. */
int cli_close(cano_t *db, int rc);
/** Opens topic name, printing an error.  @return CLI_OK or CLI_FAIL. */
int cli_topic_open(cano_t *db, const char *name, cano_topic_t **out);

/* ---- Parsing (each returns 0, or -1 when s is not valid) ---- */

/** A decimal integer in [min, max]. */
int cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/** A byte count: an integer with an optional K, M or G suffix (powers of
 *  1024), or -1. */
int cli_parse_size(const char *s, int64_t *out);
/** A duration in ms: an integer with an optional unit (ms, s, m, h, d, w),
 *  or -1. */
int cli_parse_duration(const char *s, int64_t *out);
/** A point in time, in ms since the epoch: digits (ms since the epoch);
 *  ISO-8601 "YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]" (local
 *  time without a zone); "now"; or "now" plus or minus a duration, written
 *  "-1d", "+2h", "now-30m". */
int cli_parse_time(const char *s, int64_t *out);
/** Decodes the C escapes \\ \t \n \r \0 \xHH in s into a malloc'ed byte
 *  string (*out, *len; NUL-terminated for convenience). */
int cli_parse_escapes(const char *s, char **out, size_t *len);
/** Wall-clock time in ms since the epoch. */
int64_t cli_now_ms(void);
/** Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). */
void cli_format_time(int64_t ms, char *buf, size_t n);
/** Sleeps ms milliseconds (returns early on a signal). */
void cli_sleep_ms(int ms);

/* ---- Output encodings ---- */

/** 1 when the bytes are well-formed UTF-8 (no overlongs, no surrogates). */
int cli_utf8_valid(const void *p, size_t n);
/** Writes bytes for a text line: printable ASCII and well-formed UTF-8 as
 *  they are, \\ \n \t \r escaped, any other byte as \xHH. */
void cli_put_text(FILE *f, const void *p, size_t n);
/** Writes a JSON string of well-formed UTF-8 bytes, quotes included. */
void cli_put_json_string(FILE *f, const void *p, size_t n);
/** Writes bytes as JSON: null when p is NULL, a string when they are
 *  well-formed UTF-8, else {"base64":"..."}. */
void cli_put_json_bytes(FILE *f, const void *p, size_t n);
/** Writes standard base64 (RFC 4648, with padding). */
void cli_put_base64(FILE *f, const void *p, size_t n);

/* ---- Aligned tables ---- */

typedef struct cli_table cli_table;
/** A table with ncols columns; align holds one character per column, 'l'
 *  or 'r'.  Column widths count UTF-8 characters. */
cli_table *cli_table_new(int ncols, const char *align);
/** Appends a cell to the current row; a row is full after ncols cells. */
void cli_table_cell(cli_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Prints every row, columns separated by two spaces, each line prefixed
 *  with indent; trailing spaces are not written.  Then frees the table
 *  (f NULL: only frees it). */
void cli_table_print(cli_table *t, FILE *f, const char *indent);

/** A bar of width cells for value/max, in Unicode block characters (eighths
 *  of a cell), written into buf (at least 3 * width + 1 bytes). */
void cli_bar(char *buf, size_t n, double value, double max, int width);

#endif
