/* libisapi: INI files, GetPrivateProfileString/Int/Section with Windows' rules (docs/porting.md,
 * "Configuration files and the registry"). Own parser, because Windows' rules are not those of
 * the common INI libraries: section and key names compare without regard to ASCII case, the
 * first of duplicate sections or keys wins, only a line that starts with `;` is a comment (a
 * `;` later in a line is part of the value), blanks around names and values are dropped, and
 * one pair of matching quotes ("..." or '...') around a whole value is stripped.
 *
 * Each call reads the whole file (extensions read their settings once, at start-up), so there
 * is no cache to invalidate and nothing shared between threads. */
#define _GNU_SOURCE
#include <windows.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define PROFILE_MAX_BYTES (16u << 20) /* larger files are refused: an INI file is small */

/* One line of the file, trimmed: `name` is set for "[name]", `key`/`value` for "key=value"
 * (a line without `=` is a key with no value, as Windows reads it). Pointers into the buffer. */
struct profile_line {
    const char *section;
    size_t section_len;
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    const char *raw; /* the trimmed line, for GetPrivateProfileSection */
    size_t raw_len;
};

static BOOL is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void trim(const char **text, size_t *len)
{
    while (*len > 0 && is_blank(**text)) {
        (*text)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*text)[*len - 1]))
        (*len)--;
}

/* Parses the line at *cursor (within [*cursor, end)) and advances past it. FALSE at the end. */
static BOOL next_line(const char **cursor, const char *end, struct profile_line *line)
{
    for (;;) {
        if (*cursor >= end)
            return FALSE;
        const char *start = *cursor;
        const char *nl = memchr(start, '\n', (size_t)(end - start));
        const char *stop = nl != NULL ? nl : end;
        *cursor = nl != NULL ? nl + 1 : end;
        const char *text = start;
        size_t len = (size_t)(stop - start);
        trim(&text, &len);
        if (len == 0 || text[0] == ';')
            continue;
        memset(line, 0, sizeof *line);
        line->raw = text;
        line->raw_len = len;
        if (text[0] == '[') {
            const char *close = memchr(text, ']', len);
            line->section = text + 1;
            line->section_len = close != NULL ? (size_t)(close - text - 1) : len - 1;
            trim(&line->section, &line->section_len);
            return TRUE;
        }
        const char *eq = memchr(text, '=', len);
        line->key = text;
        line->key_len = eq != NULL ? (size_t)(eq - text) : len;
        trim(&line->key, &line->key_len);
        if (eq != NULL) {
            line->value = eq + 1;
            line->value_len = (size_t)(text + len - eq - 1);
            trim(&line->value, &line->value_len);
            if (line->value_len >= 2 && (line->value[0] == '"' || line->value[0] == '\'') &&
                line->value[line->value_len - 1] == line->value[0]) {
                line->value++;
                line->value_len -= 2;
            }
        }
        return TRUE;
    }
}

static BOOL name_equals(const char *name, size_t len, LPCSTR wanted)
{
    return strlen(wanted) == len && strncasecmp(name, wanted, len) == 0;
}

/* The directory of the module whose code is at `caller`, with a trailing '/', or "" if unknown. */
static void caller_directory(const void *caller, char *dir, size_t size)
{
    Dl_info info;
    char resolved[PATH_MAX];
    dir[0] = '\0';
    if (dladdr(caller, &info) == 0 || info.dli_fname == NULL)
        return;
    const char *name = info.dli_fname;
    /* The main program's entry may be its bare argv[0]; /proc/self/exe names it exactly. */
    if (strchr(name, '/') == NULL || realpath(name, resolved) == NULL) {
        ssize_t n = readlink("/proc/self/exe", resolved, sizeof resolved - 1);
        if (n <= 0)
            return;
        resolved[n] = '\0';
    }
    char *slash = strrchr(resolved, '/');
    if (slash == NULL || (size_t)(slash - resolved) + 2 > size)
        return;
    memcpy(dir, resolved, (size_t)(slash - resolved) + 1);
    dir[slash - resolved + 1] = '\0';
}

/* Reads the file into a NUL-terminated heap buffer (*len bytes). NULL with the last error set. */
static char *read_profile(LPCSTR file_name, const void *caller, size_t *len)
{
    if (file_name == NULL || file_name[0] == '\0') {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    char dir[PATH_MAX];
    if (file_name[0] == '/' || file_name[0] == '\\')
        dir[0] = '\0';
    else
        caller_directory(caller, dir, sizeof dir);
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s%s", dir, file_name);
    if (n < 0 || (size_t)n >= sizeof path) {
        SetLastError(ERROR_FILENAME_EXCED_RANGE);
        return NULL;
    }
    for (char *c = path; *c != '\0'; c++)
        if (*c == '\\')
            *c = '/';
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        isapi_set_last_error_from_errno(errno);
        return NULL;
    }
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        size_t got = fread(buf + used, 1, cap - used, f);
        used += got;
        if (used < cap)
            break;
        char *bigger = cap < PROFILE_MAX_BYTES ? realloc(buf, cap * 2 + 1) : NULL;
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    BOOL read_error = ferror(f) != 0;
    fclose(f);
    if (buf == NULL || read_error) {
        free(buf);
        SetLastError(buf == NULL ? ERROR_NOT_ENOUGH_MEMORY : ERROR_READ_FAULT);
        return NULL;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* Output to a caller's buffer of `size` bytes: either one string (truncated to size-1, the
 * count returned is its length) or a list of NUL-terminated strings ending with an extra NUL
 * (truncated to whole-or-cut strings plus the double NUL, the count returned is then size-2,
 * as Windows returns). */
struct profile_out {
    char *buf;
    DWORD size;
    DWORD used;
    BOOL truncated;
};

static void out_append_item(struct profile_out *out, const char *text, size_t len)
{
    if (out->truncated || out->size < 2)
        return;
    DWORD room = out->size - 2 - out->used; /* keep two bytes for the item's NUL and the list's */
    if (len > room) {
        len = room;
        out->truncated = TRUE;
    }
    memcpy(out->buf + out->used, text, len);
    out->used += (DWORD)len;
    out->buf[out->used++] = '\0';
    if (out->truncated)
        out->used = out->size - 1;
}

static DWORD out_finish_list(struct profile_out *out)
{
    if (out->size == 0)
        return 0;
    if (out->size == 1) {
        out->buf[0] = '\0';
        return 0;
    }
    if (out->truncated) {
        out->buf[out->size - 2] = '\0';
        out->buf[out->size - 1] = '\0';
        return out->size - 2;
    }
    out->buf[out->used] = '\0';
    if (out->used == 0)
        out->buf[1] = '\0';
    return out->used;
}

static DWORD copy_string(LPSTR buf, DWORD size, const char *text, size_t len)
{
    if (size == 0)
        return 0;
    if (len > size - 1)
        len = size - 1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return (DWORD)len;
}

static DWORD get_profile_string(LPCSTR app, LPCSTR key, LPCSTR def, LPSTR buf, DWORD size, LPCSTR file,
                                const void *caller)
{
    if (buf == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return 0;
    }
    size_t file_len = 0;
    char *text = file != NULL ? read_profile(file, caller, &file_len) : NULL;
    if (file == NULL)
        SetLastError(ERROR_INVALID_PARAMETER);
    struct profile_out list = {buf, size, 0, FALSE};
    struct profile_line line;
    const char *cursor = text, *end = text != NULL ? text + file_len : NULL;
    BOOL in_section = FALSE, section_seen = FALSE;
    DWORD result = 0;
    BOOL found = FALSE;
    while (text != NULL && next_line(&cursor, end, &line)) {
        if (line.section != NULL) {
            if (app == NULL) {
                out_append_item(&list, line.section, line.section_len);
                continue;
            }
            /* The first section of that name is the one read; later duplicates are ignored. */
            in_section = !section_seen && name_equals(line.section, line.section_len, app);
            section_seen = section_seen || in_section;
            continue;
        }
        if (!in_section || app == NULL)
            continue;
        if (key == NULL) {
            out_append_item(&list, line.key, line.key_len);
        } else if (name_equals(line.key, line.key_len, key)) {
            result = copy_string(buf, size, line.value != NULL ? line.value : "", line.value_len);
            found = TRUE;
            break;
        }
    }
    if (app == NULL || key == NULL) {
        result = out_finish_list(&list);
    } else if (!found) {
        /* Windows drops trailing blanks of the default. */
        const char *d = def != NULL ? def : "";
        size_t len = strlen(d);
        while (len > 0 && is_blank(d[len - 1]))
            len--;
        result = copy_string(buf, size, d, len);
        if (text != NULL)
            SetLastError(ERROR_FILE_NOT_FOUND); /* as Windows: the key was not found */
    }
    if (found || (text != NULL && (app == NULL || key == NULL)))
        SetLastError(ERROR_SUCCESS);
    free(text);
    return result;
}

ISAPI_RUNTIME_API DWORD WINAPI GetPrivateProfileStringA(LPCSTR lpAppName, LPCSTR lpKeyName, LPCSTR lpDefault,
                                                        LPSTR lpReturnedString, DWORD nSize, LPCSTR lpFileName)
{
    return get_profile_string(lpAppName, lpKeyName, lpDefault, lpReturnedString, nSize, lpFileName,
                              __builtin_return_address(0));
}

ISAPI_RUNTIME_API UINT WINAPI GetPrivateProfileIntA(LPCSTR lpAppName, LPCSTR lpKeyName, INT nDefault,
                                                    LPCSTR lpFileName)
{
    char value[64];
    if (lpAppName == NULL || lpKeyName == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return (UINT)nDefault;
    }
    get_profile_string(lpAppName, lpKeyName, "", value, sizeof value, lpFileName, __builtin_return_address(0));
    if (value[0] == '\0')
        return (UINT)nDefault;
    /* As Windows: leading decimal digits (or 0x and hex digits), an optional '-'; "abc" is 0. */
    const char *p = value;
    BOOL negative = *p == '-';
    if (negative || *p == '+')
        p++;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    UINT result = 0;
    for (; isxdigit((unsigned char)*p) && (base == 16 || isdigit((unsigned char)*p)); p++) {
        UINT digit = isdigit((unsigned char)*p) ? (UINT)(*p - '0') : (UINT)(tolower((unsigned char)*p) - 'a' + 10);
        result = result * (UINT)base + digit; /* wraps on overflow, as a UINT does on Windows */
    }
    return negative ? 0u - result : result;
}

ISAPI_RUNTIME_API DWORD WINAPI GetPrivateProfileSectionA(LPCSTR lpAppName, LPSTR lpReturnedString, DWORD nSize,
                                                         LPCSTR lpFileName)
{
    if (lpAppName == NULL || lpReturnedString == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return 0;
    }
    size_t file_len = 0;
    char *text = read_profile(lpFileName, __builtin_return_address(0), &file_len);
    struct profile_out list = {lpReturnedString, nSize, 0, FALSE};
    struct profile_line line;
    const char *cursor = text, *end = text != NULL ? text + file_len : NULL;
    BOOL in_section = FALSE, section_seen = FALSE;
    while (text != NULL && next_line(&cursor, end, &line)) {
        if (line.section != NULL) {
            if (section_seen && in_section)
                break;
            in_section = name_equals(line.section, line.section_len, lpAppName);
            section_seen = section_seen || in_section;
        } else if (in_section) {
            out_append_item(&list, line.raw, line.raw_len);
        }
    }
    DWORD result = out_finish_list(&list);
    if (text != NULL)
        SetLastError(ERROR_SUCCESS);
    free(text);
    return result;
}
