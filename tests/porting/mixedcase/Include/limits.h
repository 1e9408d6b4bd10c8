/*++

Module Name:

    limits.h

Abstract:

    The pool's hard limits.

--*/

#ifndef _POOL_LIMITS_H_
#define _POOL_LIMITS_H_

#define POOL_MAX_WORKERS        64

#endif // _POOL_LIMITS_H_
