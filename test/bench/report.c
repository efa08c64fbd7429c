/* report.c - the result rows, the printed table and the JSON file. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

/* A fixed table, so a row pointer stays valid while more rows are added. */
#define MAX_ROWS 1024
static result rows[MAX_ROWS];
static size_t nrows;

void result_init(result *r, const char *workload, const char *system, const char *metric,
                 double value, const char *unit)
{
    memset(r, 0, sizeof *r);
    strfmt(r->workload, sizeof r->workload, "%s", workload);
    strfmt(r->system, sizeof r->system, "%s", system);
    strfmt(r->metric, sizeof r->metric, "%s", metric);
    strfmt(r->unit, sizeof r->unit, "%s", unit);
    r->value = value;
    r->p50_us = r->p99_us = NAN;
    r->rss_peak_mib = r->rss_delta_mib = NAN;
    r->ratio = NAN;
    r->seconds = NAN;
    r->second = NAN;
}

result *result_add(const result *src)
{
    if (nrows == MAX_ROWS)
        fatal("more than %d result rows", MAX_ROWS);
    rows[nrows] = *src;
    return &rows[nrows++];
}

result *result_new(const char *workload, const char *system, const char *metric,
                   double value, const char *unit)
{
    result r;
    result_init(&r, workload, system, metric, value, unit);
    return result_add(&r);
}

size_t results_count(void) { return nrows; }
result *result_at(size_t i) { return i < nrows ? &rows[i] : NULL; }

static const char *status_name(int st)
{
    switch (st) {
    case ST_MET: return "MET";
    case ST_MISSED: return "MISSED";
    case ST_SKIPPED: return "skipped";
    default: return "";
    }
}

/* 1234567.8 -> "1,234,568" */
static void fmt_thousands(char *out, size_t len, double v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t nd = strlen(digits), o = 0;
    for (size_t i = 0; i < nd && o + 2 < len; i++) {
        out[o++] = digits[i];
        size_t left = nd - i - 1;
        if (left && left % 3 == 0 && digits[0] != '-')
            out[o++] = ',';
    }
    out[o] = 0;
}

static void fmt_value(char *out, size_t len, const result *r)
{
    if (isnan(r->value))
        snprintf(out, len, "-");
    else if (strcmp(r->unit, "records/s") == 0 || strcmp(r->unit, "lookups/s") == 0 ||
             strcmp(r->unit, "records") == 0 || strcmp(r->unit, "fds") == 0)
        fmt_thousands(out, len, r->value);
    else if (r->value >= 100)
        snprintf(out, len, "%.1f", r->value);
    else
        snprintf(out, len, "%.3g", r->value);
}

static void fmt_opt(char *out, size_t len, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(out, len, "-");
    else
        snprintf(out, len, fmt, v);
}

void print_table(const bench_cfg *cfg)
{
    (void)cfg;
    const char *line =
        "--------------------------------------------------------------------------------"
        "-----------------------------------------------------------------------";
    printf("\n%-4s %-8s %-38s %14s %-10s %8s %8s %15s %-20s %-22s %s\n", "wl", "system",
           "measure", "value", "unit", "p50 us", "p99 us", "RSS peak (+d)", "ratio",
           "target", "result");
    printf("%s\n", line);
    const char *prev = "";
    for (size_t i = 0; i < nrows; i++) {
        const result *r = &rows[i];
        char val[32], p50[16], p99[16], rss[32], ratio[40];
        if (i && strcmp(prev, r->workload) != 0)
            printf("\n");
        prev = r->workload;
        fmt_value(val, sizeof val, r);
        fmt_opt(p50, sizeof p50, r->p50_us, "%.2f");
        fmt_opt(p99, sizeof p99, r->p99_us, "%.2f");
        if (isnan(r->rss_peak_mib))
            snprintf(rss, sizeof rss, "-");
        else
            snprintf(rss, sizeof rss, "%.0f (%+.0f)", r->rss_peak_mib, r->rss_delta_mib);
        if (isnan(r->ratio))
            snprintf(ratio, sizeof ratio, "-");
        else if (r->ratio_label[0] && r->ratio_label[strlen(r->ratio_label) - 1] == ':')
            snprintf(ratio, sizeof ratio, "%s %.1f", r->ratio_label, r->ratio);
        else
            snprintf(ratio, sizeof ratio, "%s %.2fx", r->ratio_label, r->ratio);
        printf("%-4s %-8s %-38s %14s %-10s %8s %8s %15s %-20s %-22s %s\n", r->workload,
               r->system, r->metric, val, r->unit, p50, p99, rss, ratio,
               r->target[0] ? r->target : "-", status_name(r->status));
    }
    printf("%s\n", line);

    int met = 0, missed = 0, skipped = 0;
    for (size_t i = 0; i < nrows; i++) {
        met += rows[i].status == ST_MET;
        missed += rows[i].status == ST_MISSED;
        skipped += rows[i].status == ST_SKIPPED;
    }
    printf("targets: %d met, %d missed, %d skipped\n", met, missed, skipped);

    int any = 0;
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].note[0]) {
            if (!any++)
                printf("\nnotes:\n");
            printf("  %-4s %-8s %s: %s\n", rows[i].workload, rows[i].system, rows[i].metric,
                   rows[i].note);
        }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fprintf(f, "null");
    else
        fprintf(f, "%.10g", v);
}

/* Writes the machine/config header (built by main) and all rows. */
int write_json(const bench_cfg *cfg, const char *header_json)
{
    const char *path = cfg->json_path;
    char tmp[4200];
    xpath(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "bench: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n%s,\n  \"results\": [\n", header_json);
    for (size_t i = 0; i < nrows; i++) {
        const result *r = &rows[i];
        fprintf(f, "    {\"workload\": ");
        json_str(f, r->workload);
        fprintf(f, ", \"system\": ");
        json_str(f, r->system);
        fprintf(f, ", \"measure\": ");
        json_str(f, r->metric);
        fprintf(f, ", \"value\": ");
        json_num(f, r->value);
        fprintf(f, ", \"unit\": ");
        json_str(f, r->unit);
        fprintf(f, ", \"records\": %llu, \"seconds\": ", (unsigned long long)r->records);
        json_num(f, r->seconds);
        fprintf(f, ", \"runs\": [");
        for (int k = 0; k < r->nruns; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_num(f, r->runs[k]);
        }
        fprintf(f, "]");
        fprintf(f, ", \"second_pass\": ");
        json_num(f, r->second);
        fprintf(f, ", \"p50_us\": ");
        json_num(f, r->p50_us);
        fprintf(f, ", \"p99_us\": ");
        json_num(f, r->p99_us);
        fprintf(f, ", \"rss_peak_mib\": ");
        json_num(f, r->rss_peak_mib);
        fprintf(f, ", \"rss_delta_mib\": ");
        json_num(f, r->rss_delta_mib);
        fprintf(f, ", \"ratio\": ");
        json_num(f, r->ratio);
        fprintf(f, ", \"ratio_of\": ");
        json_str(f, r->ratio_label);
        fprintf(f, ", \"target\": ");
        json_str(f, r->target);
        fprintf(f, ", \"status\": ");
        json_str(f, status_name(r->status));
        fprintf(f, ", \"note\": ");
        json_str(f, r->note);
        fprintf(f, "}%s\n", i + 1 < nrows ? "," : "");
    }
    int met = 0, missed = 0;
    for (size_t i = 0; i < nrows; i++) {
        met += rows[i].status == ST_MET;
        missed += rows[i].status == ST_MISSED;
    }
    fprintf(f, "  ],\n  \"targets_met\": %d,\n  \"targets_missed\": %d,\n", met, missed);
    fprintf(f, "  \"peak_rss_process_mib\": ");
    json_num(f, peak_rss_process_mib());
    fprintf(f, "\n}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

void json_escape_into(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
}
