/* tchar.h for ISAPI extensions built on Linux (isapid SDK): the generic-text names in their
 * ANSI mapping (TCHAR is char; extensions here are narrow-character code, see windows.h).
 * _UNICODE and _MBCS mappings are not provided: _T("x") is always "x". docs/porting.md,
 * "64-bit and character pitfalls", says why. */
#ifndef ISAPI_TCHAR_H
#define ISAPI_TCHAR_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "windows.h"

#if defined(_UNICODE) || defined(UNICODE)
#error "isapid's tchar.h maps TCHAR to char only: build without UNICODE/_UNICODE (docs/porting.md, 64-bit and character pitfalls)"
#endif

typedef char _TCHAR;
typedef signed char _TSCHAR;
typedef unsigned char _TUCHAR;
typedef int _TINT;
#define _TEOF EOF

#define _T(x) x
#define _TEXT(x) x
#ifndef __T
#define __T(x) x
#endif

/* Strings */
#define _tcslen strlen
#define _tcsclen strlen
#define _tcscpy strcpy
#define _tcscpy_s strcpy_s
#define _tcsncpy strncpy
#define _tcsncpy_s strncpy_s
#define _tcscat strcat
#define _tcscat_s strcat_s
#define _tcsncat strncat
#define _tcsncat_s strncat_s
#define _tcscmp strcmp
#define _tcsncmp strncmp
#define _tcsicmp _stricmp
#define _tcsnicmp _strnicmp
#define _tcschr strchr
#define _tcsrchr strrchr
#define _tcsstr strstr
#define _tcsspn strspn
#define _tcscspn strcspn
#define _tcspbrk strpbrk
#define _tcstok strtok
#define _tcsdup _strdup
#define _tcsupr _strupr
#define _tcslwr _strlwr
#define _tcsftime strftime

/* Numbers */
#define _tcstol strtol
#define _tcstoul strtoul
#define _tcstod strtod
#define _tcstoi64 _strtoi64
#define _tcstoui64 _strtoui64
#define _ttoi atoi
#define _ttol atol
#define _tstoi atoi
#define _tstol atol
#define _ttoi64 _atoi64
#define _itot _itoa
#define _itot_s _itoa_s
#define _ultot _ultoa

/* Formatted I/O */
#define _stprintf sprintf
#define _stprintf_s sprintf_s
#define _sntprintf _snprintf
#define _sntprintf_s _snprintf_s
#define _vstprintf vsprintf
#define _vstprintf_s vsprintf_s
#define _vsntprintf _vsnprintf
#define _vsntprintf_s _vsnprintf_s
#define _sctprintf _scprintf
#define _vsctprintf _vscprintf
#define _tprintf printf
#define _ftprintf fprintf
#define _vtprintf vprintf
#define _vftprintf vfprintf
#define _stscanf sscanf
#define _fgetts fgets
#define _fputts fputs
#define _tfopen fopen
#define _tgetenv getenv
#define _tremove remove
#define _trename rename

/* Characters */
#define _istspace isspace
#define _istdigit isdigit
#define _istxdigit isxdigit
#define _istalpha isalpha
#define _istalnum isalnum
#define _istupper isupper
#define _istlower islower
#define _istprint isprint
#define _totupper toupper
#define _totlower tolower

#endif /* ISAPI_TCHAR_H */
