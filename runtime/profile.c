/* libisapi: INI files, GetPrivateProfileString/Int/Section and WritePrivateProfileString with Windows' rules (docs/porting.md,
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
#include <sys/stat.h>
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

/* Reads the file into a NUL-terminated heap buffer (*len bytes), its resolved name into
 * path[PATH_MAX]. NULL with the last error set (path is set when the name resolved). */
static char *read_profile(LPCSTR file_name, const void *caller, size_t *len, char *path)
{
    path[0] = '\0';
    if (file_name == NULL || file_name[0] == '\0') {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    char dir[PATH_MAX];
    if (file_name[0] == '/' || file_name[0] == '\\')
        dir[0] = '\0';
    else
        caller_directory(caller, dir, sizeof dir);
    int n = snprintf(path, PATH_MAX, "%s%s", dir, file_name);
    if (n < 0 || n >= PATH_MAX) {
        path[0] = '\0';
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

/* Invariant: used <= size - 1, the last byte being kept for the list's final NUL. */
static void out_append_item(struct profile_out *out, const char *text, size_t len)
{
    if (out->truncated || out->size < 2)
        return;
    DWORD room = out->size - 1 - out->used; /* for the item and its NUL */
    if (len + 1 > room) {
        /* Cut to end at size - 3; out_finish_list writes the two NULs. */
        if (room > 1)
            memcpy(out->buf + out->used, text, room - 1);
        out->truncated = TRUE;
        out->used = out->size - 1;
        return;
    }
    memcpy(out->buf + out->used, text, len);
    out->used += (DWORD)len;
    out->buf[out->used++] = '\0';
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
    char path[PATH_MAX];
    char *text = file != NULL ? read_profile(file, caller, &file_len, path) : NULL;
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
    char path[PATH_MAX];
    char *text = read_profile(lpFileName, __builtin_return_address(0), &file_len, path);
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

/* Gives the temporary file the mode of the file it replaces (0644 for a new one: mkstemp
 * makes 0600, which another user, such as an editor's, could not read). */
static void copy_mode(const char *tmp, const char *path)
{
    struct stat st;
    chmod(tmp, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644);
}

/* Writes `len` bytes over the file at `path` through a temporary file in the same directory and
 * a rename, so a reader never sees half a file. FALSE with the last error set. */
static BOOL replace_file(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        isapi_set_last_error_from_errno(errno);
        return FALSE;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    int err = done == len ? 0 : (errno != 0 ? errno : EIO);
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err == 0) {
        copy_mode(tmp, path);
        if (rename(tmp, path) != 0)
            err = errno;
    }
    if (err != 0) {
        unlink(tmp);
        isapi_set_last_error_from_errno(err);
        return FALSE;
    }
    return TRUE;
}

ISAPI_RUNTIME_API BOOL WINAPI WritePrivateProfileStringA(LPCSTR lpAppName, LPCSTR lpKeyName, LPCSTR lpString,
                                                         LPCSTR lpFileName)
{
    if (lpAppName == NULL || lpFileName == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    size_t file_len = 0;
    char path[PATH_MAX];
    char *text = read_profile(lpFileName, __builtin_return_address(0), &file_len, path);
    if (text == NULL) {
        if (path[0] == '\0' || GetLastError() != ERROR_FILE_NOT_FOUND)
            return FALSE;
        if (lpKeyName == NULL || lpString == NULL)
            return TRUE; /* nothing to delete in a file that does not exist */
        text = calloc(1, 1);
        if (text == NULL) {
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return FALSE;
        }
    }
    /* Byte offsets into text: the section's header line starts at section_start, its last key
     * line ends at section_end, the next section starts at section_stop; the key's line is
     * [key_start, key_end). (size_t)-1 means not found. */
    const size_t none = (size_t)-1;
    size_t section_start = none, section_end = none, section_stop = file_len, key_start = none, key_end = none;
    struct profile_line line;
    const char *cursor = text, *end = text + file_len;
    BOOL in_section = FALSE;
    while (next_line(&cursor, end, &line)) {
        size_t line_start = (size_t)(line.raw - text);
        while (line_start > 0 && text[line_start - 1] != '\n')
            line_start--;
        size_t line_end = (size_t)(cursor - text);
        if (line.section != NULL) {
            if (in_section) {
                section_stop = line_start;
                break;
            }
            if (section_start == none && name_equals(line.section, line.section_len, lpAppName)) {
                in_section = TRUE;
                section_start = line_start;
                section_end = line_end;
            }
        } else if (in_section) {
            section_end = line_end;
            if (lpKeyName != NULL && key_start == none && name_equals(line.key, line.key_len, lpKeyName)) {
                key_start = line_start;
                key_end = line_end;
            }
        }
    }
    /* The new file is text[0, cut_start) + insert + text[cut_end, file_len). */
    size_t cut_start = file_len, cut_end = file_len;
    char *insert = NULL;
    int n = 0;
    if (lpKeyName == NULL) { /* delete the section */
        if (section_start != none) {
            cut_start = section_start;
            cut_end = section_stop;
        }
    } else if (lpString == NULL) { /* delete the key */
        if (key_start != none) {
            cut_start = key_start;
            cut_end = key_end;
        }
    } else {
        const char *lead = file_len > 0 && text[file_len - 1] != '\n' ? "\r\n" : "";
        if (key_start != none) {
            cut_start = key_start;
            cut_end = key_end;
            n = asprintf(&insert, "%s=%s%s", lpKeyName, lpString,
                         key_end == file_len && text[file_len - 1] != '\n' ? "" : "\r\n");
        } else if (section_start != none) {
            cut_start = cut_end = section_end;
            n = asprintf(&insert, "%s%s=%s\r\n", section_end == file_len ? lead : "", lpKeyName, lpString);
        } else {
            n = asprintf(&insert, "%s[%s]\r\n%s=%s\r\n", lead, lpAppName, lpKeyName, lpString);
        }
        if (n < 0) {
            free(text);
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return FALSE;
        }
    }
    size_t insert_len = insert != NULL ? (size_t)n : 0;
    size_t out_len = cut_start + insert_len + (file_len - cut_end);
    char *out = malloc(out_len + 1);
    BOOL ok = FALSE;
    if (out == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    } else {
        memcpy(out, text, cut_start);
        if (insert_len > 0)
            memcpy(out + cut_start, insert, insert_len);
        memcpy(out + cut_start + insert_len, text + cut_end, file_len - cut_end);
        ok = replace_file(path, out, out_len);
        if (ok)
            SetLastError(ERROR_SUCCESS);
    }
    free(out);
    free(insert);
    free(text);
    return ok;
}
