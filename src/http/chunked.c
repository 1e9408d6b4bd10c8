#include "chunked.h"

#include <stdbool.h>
#include <string.h>

enum {
    ST_SIZE,        /* hex digits */
    ST_EXT,         /* after the size: blanks, ";ext" up to CR */
    ST_SIZE_LF,     /* CR seen, LF required */
    ST_DATA,
    ST_DATA_CR,     /* CRLF after the data */
    ST_DATA_LF,
    ST_TRAILER,     /* start of a trailer line, or the final CRLF */
    ST_TRAILER_LINE,
    ST_TRAILER_LF,  /* CR of a trailer line seen */
    ST_END_LF,      /* CR of the final empty line seen */
    ST_DONE,
    ST_ERROR,
};

void chunked_init(chunked_decoder_t *d) { memset(d, 0, sizeof *d); }

bool chunked_finished(const chunked_decoder_t *d) { return d->state == ST_DONE; }

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Field content of extensions and trailers: visible ASCII, obs-text, SP and HTAB. */
static bool line_byte_ok(unsigned char ch) { return ch == '\t' || (ch >= 0x20 && ch != 0x7f); }

chunked_status_t chunked_decode(chunked_decoder_t *d, const char *in, size_t in_len, char *out,
                                size_t out_cap, size_t *consumed, size_t *produced)
{
    size_t i = 0, o = 0;
    while (i < in_len && d->state != ST_DONE && d->state != ST_ERROR) {
        unsigned char ch = (unsigned char)in[i];
        switch (d->state) {
        case ST_SIZE: {
            int v = hex_value(ch);
            if (v >= 0) {
                /* 2^60 is far above any body limit and keeps the shift from overflowing. */
                if (d->digits >= 15) {
                    d->state = ST_ERROR;
                    break;
                }
                d->left = (d->left << 4) | (uint64_t)v;
                d->digits++;
            } else if (d->digits > 0 && (ch == ';' || ch == ' ' || ch == '\t')) {
                d->state = ST_EXT;
            } else if (d->digits > 0 && ch == '\r') {
                d->state = ST_SIZE_LF;
            } else {
                d->state = ST_ERROR;
                break;
            }
            i++;
            if (++d->line_len > CHUNKED_MAX_LINE)
                d->state = ST_ERROR;
            break;
        }
        case ST_EXT:
            if (ch == '\r')
                d->state = ST_SIZE_LF;
            else if (!line_byte_ok(ch))
                d->state = ST_ERROR;
            i++;
            if (++d->line_len > CHUNKED_MAX_LINE)
                d->state = ST_ERROR;
            break;
        case ST_SIZE_LF:
            if (ch != '\n') {
                d->state = ST_ERROR;
                break;
            }
            i++;
            d->line_len = 0;
            d->digits = 0;
            d->state = d->left == 0 ? ST_TRAILER : ST_DATA;
            break;
        case ST_DATA: {
            if (o == out_cap)
                goto out; /* output full: stop here, resume with more room */
            size_t n = in_len - i;
            if (n > d->left)
                n = (size_t)d->left;
            if (n > out_cap - o)
                n = out_cap - o;
            if (out)
                memcpy(out + o, in + i, n);
            i += n;
            o += n;
            d->left -= n;
            if (d->left == 0)
                d->state = ST_DATA_CR;
            break;
        }
        case ST_DATA_CR:
            d->state = ch == '\r' ? ST_DATA_LF : ST_ERROR;
            i += d->state == ST_DATA_LF;
            break;
        case ST_DATA_LF:
            d->state = ch == '\n' ? ST_SIZE : ST_ERROR;
            i += d->state == ST_SIZE;
            break;
        case ST_TRAILER:
            if (ch == '\r') {
                d->state = ST_END_LF;
                i++;
            } else if (line_byte_ok(ch) && ch != ' ' && ch != '\t') {
                d->state = ST_TRAILER_LINE; /* counted and checked there */
            } else {
                d->state = ST_ERROR;
            }
            break;
        case ST_TRAILER_LINE:
            if (ch == '\r')
                d->state = ST_TRAILER_LF;
            else if (!line_byte_ok(ch))
                d->state = ST_ERROR;
            i++;
            if (++d->trailer_len > CHUNKED_MAX_TRAILERS)
                d->state = ST_ERROR;
            break;
        case ST_TRAILER_LF:
            d->state = ch == '\n' ? ST_TRAILER : ST_ERROR;
            i += d->state == ST_TRAILER;
            break;
        case ST_END_LF:
            d->state = ch == '\n' ? ST_DONE : ST_ERROR;
            i += d->state == ST_DONE;
            break;
        }
    }
out:
    *consumed = i;
    *produced = o;
    if (d->state == ST_ERROR)
        return CHUNKED_ERROR;
    return d->state == ST_DONE ? CHUNKED_DONE : CHUNKED_MORE;
}
