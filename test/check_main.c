/* check_main.c - runs every Check suite of libcano.
 *
 * One suite per concept: store, topic, append, read, recovery, threads.
 * Run one with CK_RUN_SUITE=<name> (and CK_RUN_CASE=<tcase>); CK_FORK=no to
 * debug under gdb. */
#include <stdio.h>
#include <stdlib.h>
#include "testutil.h"

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    srunner_add_suite(sr, topic_suite());
    srunner_add_suite(sr, append_suite());
    srunner_add_suite(sr, read_suite());
    srunner_add_suite(sr, recovery_suite());
    srunner_add_suite(sr, threads_suite());
    srunner_add_suite(sr, retention_suite());
    srunner_add_suite(sr, compact_suite());
    srunner_add_suite(sr, queue_suite());
    srunner_add_suite(sr, faults_suite());
    srunner_add_suite(sr, badinput_suite());
    srunner_set_fork_status(sr, CK_FORK_GETENV);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
