/*++

Module Name:

    PoolConfig.h

Abstract:

    Pool settings. Included as "include\poolconfig.h" by ThreadPool.h; its own include
    of "Limits.h" is found beside it (Include/limits.h), not in the project directory.

--*/

#ifndef _POOLCONFIG_H_
#define _POOLCONFIG_H_

#include "Limits.h"

#define POOL_DEFAULT_WORKERS    4

#endif // _POOLCONFIG_H_
