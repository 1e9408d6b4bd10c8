/* The chunked request-body decoder: valid bodies fed whole and byte by byte, output limits,
 * what follows the body, and the malformed framings that enable request smuggling. */
#include <stdlib.h>

#include "check.h"
#include "chunked.h"

/* Decode all of `in`, feeding `step` bytes at a time (0 = all at once) with an output buffer of
 * `out_step` bytes per call. Returns the status; the decoded bytes go to out. */
static chunked_status_t decode_all(const char *in, size_t len, size_t step, size_t out_step,
                                   char *out, size_t *out_len, size_t *used_total)
{
    chunked_decoder_t d;
    chunked_init(&d);
    size_t pos = 0, o = 0;
    chunked_status_t st = CHUNKED_MORE;
    for (int guard = 0; guard < 100000 && st == CHUNKED_MORE; guard++) {
        size_t avail = len - pos;
        if (step && avail > step)
            avail = step;
        size_t used, got;
        st = chunked_decode(&d, in + pos, avail, out + o, out_step, &used, &got);
        pos += used;
        o += got;
        if (st == CHUNKED_MORE && used == 0 && got == 0 && pos == len)
            break; /* needs more input than there is */
    }
    CHECK(chunked_finished(&d) == (st == CHUNKED_DONE)); /* the state says what decode said */
    *out_len = o;
    *used_total = pos;
    return st;
}

static void check_body(const char *in, const char *want, size_t trailing)
{
    size_t steps[] = {0, 1, 2, 3, 7};
    size_t out_steps[] = {1, 3, 1024};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        for (size_t k = 0; k < sizeof out_steps / sizeof out_steps[0]; k++) {
            char out[1024];
            size_t out_len, used;
            chunked_status_t st = decode_all(in, strlen(in), steps[i], out_steps[k], out, &out_len, &used);
            CHECK_INT(st, CHUNKED_DONE);
            CHECK_INT(out_len, strlen(want));
            CHECK(memcmp(out, want, out_len) == 0);
            CHECK_INT(strlen(in) - used, trailing); /* bytes after the body stay unconsumed */
        }
    }
}

static void check_error(const char *in)
{
    size_t steps[] = {0, 1};
    for (size_t i = 0; i < 2; i++) {
        char out[1024];
        size_t out_len, used;
        chunked_status_t st = decode_all(in, strlen(in), steps[i], sizeof out, out, &out_len, &used);
        if (st != CHUNKED_ERROR)
            fprintf(stderr, "accepted malformed body: %s\n", in);
        CHECK_INT(st, CHUNKED_ERROR);
    }
}

int main(void)
{
    check_body("5\r\nhello\r\n0\r\n\r\n", "hello", 0);
    check_body("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0);
    check_body("0\r\n\r\n", "", 0);
    check_body("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0);
    check_body("a;name=value\r\n0123456789\r\n0;last\r\n\r\n", "0123456789", 0);
    check_body("3 ;ext\r\nabc\r\n0\r\n\r\n", "abc", 0);
    check_body("3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: two\r\n\r\n", "abc", 0);
    check_body("000003\r\nabc\r\n0\r\n\r\n", "abc", 0);
    /* the next pipelined request is not consumed */
    check_body("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "abc", 16);

    check_error("5\r\nhelloXX0\r\n\r\n");         /* no CRLF after the data */
    check_error("5\r\nhello\n0\r\n\r\n");          /* bare LF after the data */
    check_error("5\nhello\r\n0\r\n\r\n");          /* bare LF after the size */
    check_error("5\rhello\r\n0\r\n\r\n");          /* bare CR */
    check_error("g\r\n");                          /* not hex */
    check_error("\r\n");                           /* empty size */
    check_error("-1\r\n");
    check_error("+5\r\nhello\r\n0\r\n\r\n");
    check_error("0x5\r\nhello\r\n0\r\n\r\n");
    check_error("ffffffffffffffffff\r\n");          /* overflow */
    check_error("1000000000000000\r\n");            /* 16 hex digits: over 2^60 */
    check_error("3;ext\x01\r\nabc\r\n0\r\n\r\n");   /* control byte in an extension */
    check_error("3\r\nabc\r\n0\r\nBad\x01: x\r\n\r\n");
    check_error("3\r\nabc\r\n0\r\n folded\r\n\r\n"); /* trailer starting with a blank */
    check_error("3\r\nabc\r\n0\r\n\r\r");

    /* Size line and trailer limits. */
    {
        size_t n = CHUNKED_MAX_LINE + 16;
        char *big = malloc(n + 8);
        big[0] = '1';
        big[1] = ';';
        memset(big + 2, 'x', n);
        memcpy(big + 2 + n, "\r\n", 3);
        check_error(big);
        free(big);
    }
    {
        size_t n = CHUNKED_MAX_TRAILERS + 64;
        char *big = malloc(n + 32);
        strcpy(big, "0\r\nX: ");
        memset(big + 6, 'y', n);
        strcpy(big + 6 + n, "\r\n\r\n");
        check_error(big);
        free(big);
    }
    /* Discarding (out NULL) still counts bytes. */
    {
        chunked_decoder_t d;
        chunked_init(&d);
        const char *in = "4\r\nabcd\r\n0\r\n\r\n";
        size_t used, got;
        CHECK_INT(chunked_decode(&d, in, strlen(in), NULL, 100, &used, &got), CHUNKED_DONE);
        CHECK_INT(got, 4);
        CHECK_INT(used, strlen(in));
    }
    return check_report("test_chunked");
}
