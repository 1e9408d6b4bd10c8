/* mime table: built-in types, /etc/mime.types format, precedence, case, odd names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mime.h"

#define OCTET "application/octet-stream"

static void test_builtin(void)
{
    mime_table_t *t = mime_load(NULL);
    CHECK(t != NULL);
    static const char *const want[][2] = {
        {"a.html", "text/html"},         {"a.htm", "text/html"},
        {"a.css", "text/css"},           {"a.js", "application/javascript"},
        {"a.mjs", "application/javascript"}, {"a.json", "application/json"},
        {"a.txt", "text/plain"},         {"a.xml", "application/xml"},
        {"a.svg", "image/svg+xml"},      {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},         {"a.jpeg", "image/jpeg"},
        {"a.gif", "image/gif"},          {"a.webp", "image/webp"},
        {"a.ico", "image/x-icon"},       {"a.pdf", "application/pdf"},
        {"a.wasm", "application/wasm"},  {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},       {"a.mp4", "video/mp4"},
        {"a.zip", "application/zip"},    {"a.gz", "application/gzip"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_STR(mime_lookup(t, want[i][0]), want[i][1]);

    CHECK_STR(mime_lookup(t, "INDEX.HTML"), "text/html");
    CHECK_STR(mime_lookup(t, "photo.JpG"), "image/jpeg");
    CHECK_STR(mime_lookup(t, "/var/www/dir.v2/page.html"), "text/html");
    CHECK_STR(mime_lookup(t, "archive.tar.gz"), "application/gzip");
    CHECK_STR(mime_lookup(t, "/var/www/dir.html/README"), OCTET); /* the dot is in a directory */
    CHECK_STR(mime_lookup(t, "README"), OCTET);
    CHECK_STR(mime_lookup(t, "file."), OCTET);
    CHECK_STR(mime_lookup(t, ".html"), OCTET);
    CHECK_STR(mime_lookup(t, "x.unknownext"), OCTET);
    CHECK_STR(mime_lookup(t, "x.htmlx"), OCTET);
    CHECK_STR(mime_lookup(t, "x.htm"), "text/html");
    CHECK_STR(mime_lookup(t, ""), OCTET);
    CHECK_STR(mime_lookup(t, "x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), OCTET);
    CHECK_STR(mime_lookup(NULL, "x.html"), OCTET);
    CHECK_STR(mime_lookup(t, NULL), OCTET);
    mime_free(t);

    t = mime_load("/nonexistent/dir/mime.types");
    CHECK(t != NULL);
    CHECK_STR(mime_lookup(t, "a.css"), "text/css");
    mime_free(t);
    mime_free(NULL);
}

static void test_file(void)
{
    char dir[] = "/tmp/isapid-mime-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/mime.types", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("# comment line\n"
          "\n"
          "text/javascript\t\t\tjs mjs es # trailing comment\n"
          "application/x-Thing   THING thing2\n"
          "application/x-first   dup\n"
          "application/x-second  dup\n"
          "application/empty\n"
          "notatype  bad1\n"
          "text/plain; bad2\n"
          "   application/indented   ind\n"
          "#application/commented  cmt\n"
          "application/x-dotted  a.b\n"
          "application/x-crlf  crlf\r\n"
          "application/x-last  last",
          f);
    fclose(f);

    mime_table_t *t = mime_load(path);
    CHECK(t != NULL);
    CHECK_STR(mime_lookup(t, "a.js"), "text/javascript");        /* the file wins */
    CHECK_STR(mime_lookup(t, "a.mjs"), "text/javascript");
    CHECK_STR(mime_lookup(t, "a.es"), "text/javascript");
    CHECK_STR(mime_lookup(t, "a.thing"), "application/x-Thing"); /* as the table has it */
    CHECK_STR(mime_lookup(t, "a.THING2"), "application/x-Thing");
    CHECK_STR(mime_lookup(t, "a.dup"), "application/x-first");   /* first line wins */
    CHECK_STR(mime_lookup(t, "a.bad1"), OCTET);
    CHECK_STR(mime_lookup(t, "a.bad2"), OCTET);
    CHECK_STR(mime_lookup(t, "a.ind"), "application/indented");
    CHECK_STR(mime_lookup(t, "a.cmt"), OCTET);
    CHECK_STR(mime_lookup(t, "x.a.b"), OCTET);
    CHECK_STR(mime_lookup(t, "a.b"), OCTET);
    CHECK_STR(mime_lookup(t, "a.crlf"), "application/x-crlf");
    CHECK_STR(mime_lookup(t, "a.last"), "application/x-last");
    CHECK_STR(mime_lookup(t, "a.html"), "text/html"); /* built-in fills the gaps */
    CHECK_STR(mime_lookup(t, "a.woff2"), "font/woff2");
    mime_free(t);

    /* many extensions: the table grows and every one stays reachable */
    f = fopen(path, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 3000; i++)
        fprintf(f, "application/x-t%d e%d E%dx\n", i % 50, i, i);
    fclose(f);
    t = mime_load(path);
    CHECK(t != NULL);
    int wrong = 0;
    for (int i = 0; i < 3000; i++) {
        char name[32], want[32];
        snprintf(name, sizeof name, "f.E%d", i);
        snprintf(want, sizeof want, "application/x-t%d", i % 50);
        if (strcmp(mime_lookup(t, name), want) != 0)
            wrong++;
        snprintf(name, sizeof name, "f.e%dX", i);
        if (strcmp(mime_lookup(t, name), want) != 0)
            wrong++;
    }
    CHECK_INT(wrong, 0);
    CHECK_STR(mime_lookup(t, "a.png"), "image/png");
    mime_free(t);

    unlink(path);
    rmdir(dir);
}

static void test_system(void)
{
    /* whatever this machine's /etc/mime.types says, the web types resolve to something */
    mime_table_t *t = mime_load("/etc/mime.types");
    CHECK(t != NULL);
    CHECK(strncmp(mime_lookup(t, "x.html"), "text/html", 9) == 0);
    CHECK(strcmp(mime_lookup(t, "x.woff2"), OCTET) != 0);
    CHECK_STR(mime_lookup(t, "x.no-such-extension"), OCTET);
    mime_free(t);
}

int main(void)
{
    test_builtin();
    test_file();
    test_system();
    return check_report("test_mime");
}
