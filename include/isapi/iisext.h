/* iisext.h (isapid SDK).
 *
 * On Windows this header belongs to IIS administration: it declares the COM interfaces of
 * the IIS ADSI provider (applications, metabase objects), which have no counterpart in
 * isapid. ISAPI sources nevertheless include it next to or instead of httpext.h, so here
 * it provides the extension interface and nothing else. */
#ifndef ISAPI_IISEXT_H
#define ISAPI_IISEXT_H

#include "httpext.h"

#endif /* ISAPI_IISEXT_H */
