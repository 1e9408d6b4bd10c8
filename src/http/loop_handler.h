/* The handler for the routes the event loop answers itself: static files, redirects, the
 * router's 403 and 404 (src/http/loop_handler.c). An extension route goes to the server's
 * handler instead (server_t.handler: the ISAPI host). */
#ifndef ISAPID_LOOP_HANDLER_H
#define ISAPID_LOOP_HANDLER_H

#include "handler.h"

extern const handler_t loop_handler;

#endif
