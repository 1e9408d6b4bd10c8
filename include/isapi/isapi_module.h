/* Part of the isapid SDK's windows.h: declarations of libisapi (docs/porting.md). */
#ifndef ISAPI_MODULE_H
#define ISAPI_MODULE_H

#endif
