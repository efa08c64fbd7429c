/* cli.h - shared declarations of the `cano` command's source files.
 *
 * Every subcommand is a function taking the store directory and the
 * arguments after the subcommand name (argv[0] is the subcommand itself)
 * and returning the process exit status:
 *   0  success (verify: no problem found)
 *   1  the operation failed, or verify found problems
 *   2  usage error (unknown option, missing argument)
 */
#ifndef CANO_CLI_H
#define CANO_CLI_H

#include <stdint.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_topic(const char *dir, int argc, char **argv);
int cmd_produce(const char *dir, int argc, char **argv);
int cmd_consume(const char *dir, int argc, char **argv);
int cmd_dump(const char *dir, int argc, char **argv);
int cmd_verify(const char *dir, int argc, char **argv);
int cmd_stats(const char *dir, int argc, char **argv);
int cmd_compact(const char *dir, int argc, char **argv);
int cmd_retention(const char *dir, int argc, char **argv);
int cmd_delete_records(const char *dir, int argc, char **argv);

/* A progress bar on stderr, drawn only when stderr is a terminal: start
 * returns NULL otherwise, and update/finish accept NULL.  total <= 0 means
 * unknown (a counter is shown instead of a bar). */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(const char *label, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_finish(cli_progress *p);

#endif
