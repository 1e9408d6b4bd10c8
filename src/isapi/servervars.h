/* GetServerVariable: the CGI and IIS server variables of a request, with IIS's error contract.
 * Pure function of the reqinfo_t; the ISAPI layer turns the result into FALSE + SetLastError. */
#ifndef ISAPID_SERVERVARS_H
#define ISAPID_SERVERVARS_H

#include <stdint.h>

#include "reqinfo.h"

/* Copy the value of variable `name` into buf (NUL-terminated).
 * Returns 0 (ERROR_SUCCESS) with *size = bytes copied including the NUL, or a Win32 error code:
 *   ERROR_INVALID_PARAMETER (87)   name or size NULL, or buf NULL with *size > 0
 *   ERROR_INVALID_INDEX (1413)     name is not a variable this server knows, or HTTP_<NAME> /
 *                                  HEADER_<NAME> for a header the request lacks (as IIS)
 *   ERROR_INSUFFICIENT_BUFFER (122) buf too small (or NULL); *size = bytes needed incl. NUL
 * Names are matched case-sensitively, as IIS does for its upper-case names (HEADER_<Name> takes
 * the header name in any case). UNICODE_<VAR> returns the value as UTF-16LE, sizes in bytes. */
uint32_t servervar_get(const reqinfo_t *ri, const char *name, char *buf, uint32_t *size);

#endif
