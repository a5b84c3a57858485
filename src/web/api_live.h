/*
 * web/api_live.h -- the live channel's doors (the hub is web/live.h):
 *
 *   WebSocket  GET /api/v1/events/ws?since=ID   (civetweb's websocket API)
 *     Before the upgrade: the session cookie (or an API token), the Origin
 *     -- a browser's must be this server's own (scheme and Host as the
 *     request arrived, through a trusted proxy too, or core.public_url's):
 *     a page of another site cannot open it with the agent's cookie --,
 *     a well-formed Sec-WebSocket-Key, and a place under
 *     web.live_max_connections; else a problem+json answer (401, 403,
 *     400, 503) and no upgrade.  Every upgrade request of any other path
 *     is answered 404 here too.
 *     Server -> client: one text frame per event (desk/live_feed.h), or
 *     {"reset": true, "last_id": N} when `since` cannot be resumed
 *     (pruned, or an id this server never gave): reload, go on from N.
 *     Client -> client: small JSON text frames, at most LIVE_MSG_MAX
 *     bytes, at most LIVE_MSG_RATE per 10 s:
 *       {"type": "presence", "ticket_id": 7, "state": "viewing"|"typing"|"left",
 *        "tab": "a1b2"}        -> desk/presence.h (answer only on error:
 *                                 {"type": "error", "ticket_id": 7, "detail": "..."})
 *       {"type": "ping"}       -> {"type": "pong"}
 *     Anything else -- not JSON (1007), binary (1003), fragmented or too
 *     large (1009), an unknown type or too many (1008) -- closes the
 *     socket with that code and a reason.  Pings every web.live_ping;
 *     civetweb closes a peer that stops answering them.
 *   Long poll  GET /api/v1/events?since=ID&wait=S   -> {"items": [...],
 *     "last_id": N} at once when there are events, else after S seconds
 *     (default 25, at most 55); {"items": [], "reset": true, "last_id": N}
 *     as above.  The next poll passes since=last_id.
 *   POST /api/v1/tickets/{id}/presence {"state", "tab"}: presence without
 *     a socket (it expires after PRESENCE_TTL_S unless repeated).
 *   GET /api/v1/events/status (admin): sockets, polls, the cap, refusals.
 */
#ifndef ATUM_WEB_API_LIVE_H
#define ATUM_WEB_API_LIVE_H

#include <civetweb.h>
#include "web/api_request.h"

#define LIVE_MSG_MAX 4096
#define LIVE_MSG_RATE 40
#define LIVE_WAIT_DEFAULT 25
#define LIVE_WAIT_MAX 55

/* Takes every WebSocket upgrade of the server (api->live set before). */
void api_live_ws_register(struct mg_context *ctx, struct api_ctx *api);

#endif
