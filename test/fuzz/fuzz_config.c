/* fuzz_config.c - the topic.conf parser (cano__config_parse) on arbitrary
 * bytes.
 *
 * Input: one mode byte, then the file's bytes.
 *   mode & 1  FIXSUM  drop a trailing checksum line, if any, and append the
 *                     right one, so that mutations of the keys and values
 *                     get past the checksum
 *
 * The text is passed in an exact-size heap buffer (no terminating NUL, as
 * when read from disk) and the groups buffer is exactly the 1025 bytes the
 * contract asks for, so a read or write past either is caught.  A config
 * that parses must pass cano__config_import again (every field in range)
 * and keep its retention_groups inside the groups buffer. */
#include <inttypes.h>
#include "fuzz_common.h"
#include "topic.h"

#define GROUPS_BUF 1025u

/* Length of the text without a checksum line at its end. */
static size_t strip_checksum(const uint8_t *p, size_t n)
{
    size_t end = n;
    if (end && p[end - 1] == '\n')
        end--;
    size_t start = end;
    while (start && p[start - 1] != '\n')
        start--;
    if (end - start >= 9 && !memcmp(p + start, "checksum=", 9))
        return start;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    unsigned mode = data[0];
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    char *text;
    if (mode & 1) {
        size_t keep = strip_checksum(in, n);
        bool nl = keep == 0 || in[keep - 1] == '\n';
        text = malloc(keep + 1 + 9 + 16 + 1);
        FZ_CHECK(text, "out of memory");
        memcpy(text, in, keep);
        if (!nl)
            text[keep++] = '\n';
        char line[32];
        snprintf(line, sizeof line, "checksum=%016" PRIx64 "\n",
                 (uint64_t)XXH3_64bits(text, keep));
        memcpy(text + keep, line, 26);
        n = keep + 26;
    } else {
        text = malloc(n ? n : 1);
        FZ_CHECK(text, "out of memory");
        if (n)
            memcpy(text, in, n);
    }
    char *groups = malloc(GROUPS_BUF);
    FZ_CHECK(groups, "out of memory");
    cano_topic_config cfg;
    memset(&cfg, 0xa5, sizeof cfg);
    int rc = cano__config_parse(text, n, &cfg, groups);
    FZ_CHECK(rc == CANO_OK || rc == CANO_ECORRUPT, "config_parse returned %d",
             rc);
    if (rc == CANO_OK) {
        FZ_CHECK(cfg.size == sizeof cfg, "size %u", cfg.size);
        if (cfg.retention_groups) {
            FZ_CHECK(cfg.retention_groups == groups,
                     "retention_groups not in the groups buffer");
            size_t gl = strnlen(groups, GROUPS_BUF);
            FZ_CHECK(gl > 0 && gl < GROUPS_BUF, "groups of %zu bytes", gl);
            fz_touch(groups, gl);
        }
        /* Everything the parser accepts is a config the API accepts. */
        cano_topic_config again;
        int rc2 = cano__config_import(&again, &cfg);
        FZ_CHECK(rc2 == CANO_OK, "parsed config fails import: %d (%s)", rc2,
                 cano_last_errmsg());
        FZ_CHECK(cfg.partitions >= 1 && cfg.partitions <= 100000 &&
                 cfg.segment_bytes >= 1 && cfg.max_batch_bytes >= 64 &&
                 cfg.compression_level >= 1 && cfg.compression_level <= 9,
                 "out-of-range field accepted");
    }
    free(groups);
    free(text);
    return 0;
}
