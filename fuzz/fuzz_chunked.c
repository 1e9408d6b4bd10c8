/* Fuzz harness: the chunked request-body decoder (chunked_decode).
 *
 * Input: two bytes seeding the piece and output sizes, then the body as it would follow a
 * request head ("5\r\nhello\r\n0\r\n\r\n..."). The body is decoded twice: in one call with
 * room for everything, and in pieces of pseudo-random sizes into pseudo-random output room
 * (sometimes none, sometimes with out NULL, which counts and drops). Checked:
 * - every call consumes at most what it was given and produces at most its room;
 * - a call given input and room either makes progress or ends (DONE or ERROR): no spinning;
 * - once DONE or ERROR, the decoder stays there and consumes nothing more;
 * - the piecewise decode ends with the same status, consumes the same bytes and produces
 *   the same data as the one-call decode (where the data was kept);
 * - DONE never consumes beyond the body (what follows is the next request). */
#include <stdbool.h>
#include <string.h>

#include "chunked.h"
#include "fuzz.h"

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = 0x9e3779b9u ^ ((uint32_t)data[0] << 8 | data[1]);
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    /* Reference: one call, room for every byte (the data cannot outgrow the input). */
    char *whole = malloc(len + 1);
    FUZZ_REQUIRE(whole);
    chunked_decoder_t d;
    chunked_init(&d);
    size_t w_used = 0, w_got = 0;
    chunked_status_t w_st = chunked_decode(&d, in, len, whole, len + 1, &w_used, &w_got);
    FUZZ_CHECK(w_used <= len && w_got <= len);
    FUZZ_CHECK(w_st == CHUNKED_MORE || w_st == CHUNKED_DONE || w_st == CHUNKED_ERROR);
    if (w_st == CHUNKED_MORE)
        FUZZ_CHECK(w_used == len); /* it stops early only at the end or on an error */
    /* Called again after the end: nothing happens. */
    if (w_st != CHUNKED_MORE) {
        size_t u2 = 1, g2 = 1;
        FUZZ_CHECK(chunked_decode(&d, in + w_used, len - w_used, whole, len + 1, &u2, &g2) == w_st);
        FUZZ_CHECK(u2 == 0 && g2 == 0);
    }

    /* Piecewise. */
    char *got = malloc(len + 1);
    FUZZ_REQUIRE(got);
    bool kept_all = true; /* false once a piece was decoded with out NULL */
    chunked_init(&d);
    size_t pos = 0, produced = 0;
    chunked_status_t st = CHUNKED_MORE;
    size_t rounds = 0;
    while (st == CHUNKED_MORE && pos < len) {
        FUZZ_CHECK(++rounds <= 4 * len + 16);
        uint32_t r = rng_next(&seed);
        size_t piece = 1 + (r & 0xff) % 64;
        if (r & 0x100)
            piece = 1 + (r >> 9) % (len - pos); /* now and then a large piece */
        if (piece > len - pos)
            piece = len - pos;
        size_t room = (r >> 20) % 17; /* 0..16, zero included */
        bool drop = (r >> 28) == 0;   /* 1 in 16: count and drop */
        /* The input piece and the room are exact allocations, so ASan sees any overrun. */
        char *p = malloc(piece);
        char *o = malloc(room ? room : 1);
        FUZZ_REQUIRE(p && o);
        memcpy(p, in + pos, piece);
        size_t used = (size_t)-1, n = (size_t)-1;
        st = chunked_decode(&d, p, piece, drop ? NULL : o, room, &used, &n);
        FUZZ_CHECK(used <= piece && n <= room);
        if (room > 0)
            FUZZ_CHECK(used > 0 || st != CHUNKED_MORE);
        if (drop)
            kept_all = false;
        else
            memcpy(got + produced, o, n);
        produced += n;
        pos += used;
        free(p);
        free(o);
    }
    FUZZ_CHECK(st == w_st);
    FUZZ_CHECK(pos == w_used);
    FUZZ_CHECK(produced == w_got);
    if (kept_all)
        FUZZ_CHECK(memcmp(got, whole, produced) == 0);

    if (st == CHUNKED_DONE) {
        /* The body ends with the CRLF of the final empty line. */
        FUZZ_CHECK(pos >= 5 && memcmp(in + pos - 2, "\r\n", 2) == 0);
    }
    free(got);
    free(whole);
    return 0;
}
