/* main.c - the `cano` command: global options, then DIR COMMAND [ARGS].
 *
 * Each subcommand lives in its own file and parses its own options (see
 * cli.h); this file only finds the store directory and the command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "util.h"

typedef struct command {
    const char *name;
    int (*fn)(const char *dir, int argc, char **argv);
    const char *args;
    const char *summary;
} command;

static const command commands[] = {
    { "topic", cmd_topic, "SUBCOMMAND ...",
      "create, list, describe, delete, config" },
    { "produce", cmd_produce, "TOPIC", "append one record per input line" },
    { "consume", cmd_consume, "TOPIC", "print records as text, JSON or raw" },
    { "stats", cmd_stats, "[TOPIC...]",
      "offsets, sizes and consumer-group lag" },
    { "compact", cmd_compact, "[TOPIC [PARTITION]]",
      "compact compacted topics now" },
    { "retention", cmd_retention, "",
      "run due retention and compaction now" },
    { "delete-records", cmd_delete_records, "TOPIC PARTITION OFFSET",
      "move a partition's log start" },
    { "dump", cmd_dump, "[TOPIC [PARTITION]]",
      "segment-level view of the files" },
    { "verify", cmd_verify, "[TOPIC]", "check every checksum and index" },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("Usage: cano [OPTIONS] DIR COMMAND [ARGS]\n"
          "       cano help [COMMAND]\n"
          "\n"
          "Works on the cano store (a Kafka-style log) in directory DIR.\n"
          "\n"
          "Commands:\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", commands[i].name,
                 commands[i].args);
        fprintf(f, "  %-38s %s\n", left, commands[i].summary);
    }
    fputs("\n"
          "Options:\n"
          "  -w, --lock-timeout MS  wait up to MS ms for a store that another\n"
          "                         process has open (default: fail at once)\n"
          "  -V, --version          print the versions of cano and libcano\n"
          "  -h, --help             print this help\n"
          "\n"
          "'cano DIR COMMAND --help' (or 'cano help COMMAND') describes a "
          "command.\n"
          "See cano(1).\n", f);
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* `cano help COMMAND` and `cano COMMAND --help`: the command's own help,
 * which needs no store. */
static int command_help(const command *c)
{
    char name[32], help[] = "--help";
    snprintf(name, sizeof name, "%s", c->name);
    char *argv[] = { name, help, NULL };
    cli_getopt_reset();
    return c->fn("", 2, argv);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "lock-timeout", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 }
    };
    if (argc >= 2 && strcmp(argv[1], "help") == 0) {
        if (argc == 2) {
            usage(stdout);
            return CLI_OK;
        }
        const command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "cano: no command '%s'; try 'cano --help'.\n",
                    argv[2]);
            return CLI_USAGE;
        }
        return command_help(c);
    }
    if (argc == 3 && find_command(argv[1]) &&
        (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0))
        return command_help(find_command(argv[1]));

    cli_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, "+:hVw:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return CLI_OK;
        case 'V':
            printf("cano %s (libcano %s)\n", CANO_CLI_VERSION, cano_version());
            return CLI_OK;
        case 'w':
            if (cli_parse_duration(optarg, &cli_lock_timeout_ms) ||
                cli_lock_timeout_ms < 0) {
                fprintf(stderr, "cano: bad --lock-timeout '%s'\n", optarg);
                return CLI_USAGE;
            }
            break;
        default: {
            const char *arg = argv[optind - 1];
            if (c == ':')
                fprintf(stderr, "cano: option '%s' needs an argument\n", arg);
            else if (optopt)
                fprintf(stderr, "cano: unknown option '-%c'\n", optopt);
            else
                fprintf(stderr, "cano: unknown option '%s'\n", arg);
            fputs("Try 'cano --help'.\n", stderr);
            return CLI_USAGE;
        }
        }
    }
    if (argc - optind < 2) {
        if (argc - optind == 1 && find_command(argv[optind]))
            fprintf(stderr, "cano: the store directory comes first: "
                    "cano DIR %s ...\n", argv[optind]);
        else
            fprintf(stderr, "cano: %s\n", argc == optind
                    ? "no store directory and command given"
                    : "no command given");
        fputs("Usage: cano [OPTIONS] DIR COMMAND [ARGS]; "
              "try 'cano --help'.\n", stderr);
        return CLI_USAGE;
    }
    const char *dir = argv[optind];
    const command *cmd = find_command(argv[optind + 1]);
    if (!cmd) {
        fprintf(stderr, "cano: no command '%s'; try 'cano --help'.\n",
                argv[optind + 1]);
        return CLI_USAGE;
    }
    cli_store_dir = dir;
    int sub_argc = argc - optind - 1;
    char **sub_argv = argv + optind + 1;
    cli_getopt_reset();
    return cmd->fn(dir, sub_argc, sub_argv);
}
