/* api_routes.c: the routing table of the api. api_route_parse (router.c, pure) names the
 * route; this file maps each kind to its handler: mode and health here in the service,
 * price routes to the engine (serialised per key, period routes through the answer cache). */
#include <stdio.h>
#include <stdlib.h>

#include "api_internal.h"
#include "mf/util.h"

static int body_too_large(api_service *s, const struct _u_request *req) {
    const char *cl = u_map_get_case(req->map_header, "Content-Length");
    int64_t n = 0;
    if (req->binary_body_length > (size_t)s->cfg->api.max_body) return 1;
    return cl && (mf_parse_i64(cl, 0, INT64_MAX, &n) != 0 || n > s->cfg->api.max_body);
}

static int
send_answer(api_service *s, struct _u_response *resp, const api_route *rt, const char *period) {
    char *text = NULL;
    size_t len = 0;
    int status = api_engine_answer_text(&s->engine, rt, period, mf_now_ms(), &text, &len);
    ulfius_set_binary_body_response(resp, (unsigned)status, text, len);
    u_map_put(resp->map_header, "Content-Type", "application/json");
    free(text);
    return U_CALLBACK_COMPLETE;
}

static int send_openapi(struct _u_response *resp) {
    ulfius_set_binary_body_response(resp, 200, (const char *)api_openapi_json,
                                    api_openapi_json_len);
    u_map_put(resp->map_header, "Content-Type", "application/json");
    return U_CALLBACK_COMPLETE;
}

int api__dispatch(api_service *s, const struct _u_request *req, struct _u_response *resp) {
    char allow[32], err[256];
    api_route rt;
    api_route_result r;
    if (body_too_large(s, req))
        return api__send_error(resp, 413, "request body too large (see api.max_body)");
    r = api_route_parse(req->http_verb, req->url_path, &rt, allow, sizeof(allow), err, sizeof(err));
    if (r == API_ROUTE_NOT_FOUND)
        return api__send_error(resp, 404, "no such route; see GET /openapi.json");
    if (r == API_ROUTE_BAD_METHOD) {
        u_map_put(resp->map_header, "Allow", allow);
        snprintf(err, sizeof(err), "method %s not allowed here; allowed: %s", req->http_verb,
                 allow);
        return api__send_error(resp, 405, err);
    }
    if (r == API_ROUTE_BAD_INPUT) return api__send_error(resp, 400, err);
    switch (rt.kind) {
    case API_R_MODE_GET: return api__mode_get(s, resp);
    case API_R_MODE_SET: return api__mode_set(s, req, resp, &rt);
    case API_R_HEALTH: return api__health(s, resp);
    case API_R_OPENAPI: return send_openapi(resp);
    case API_R_PING: return api__send_json(resp, 200, json_pack("{s:b}", "pong", 1));
    default: break;
    }
    return send_answer(s, resp, &rt, u_map_get(req->map_url, "period"));
}
