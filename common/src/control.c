/* control.c: the control-mode message (see control.h). */
#include "mf/control.h"

#include <jansson.h>
#include <string.h>

#include "mf/subject.h"
#include "mf/util.h"

int mf_control_encode(const mf_control_msg *m, char *buf, size_t size) {
    json_t *o = json_pack("{s:s}", "mode", mf_mode_str(m->mode));
    size_t n;
    if (m->at != 0) json_object_set_new(o, "at", json_integer(m->at));
    if (m->by[0] != '\0') json_object_set_new(o, "by", json_string(m->by));
    n = json_dumpb(o, buf, size, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (n == 0 || n >= size) return -1;
    buf[n] = '\0';
    return (int)n;
}

mf_status mf_control_decode(const char *data, size_t len, mf_control_msg *out) {
    json_t *root, *at;
    const char *mode, *by;
    mf_control_msg m;
    if (data == NULL || len == 0) return MF_ERR_PARSE;
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return MF_ERR_PARSE;
    }
    memset(&m, 0, sizeof(m));
    mode = json_string_value(json_object_get(root, "mode"));
    if (mode == NULL || mf_mode_parse(mode, &m.mode) != 0) {
        json_decref(root);
        return MF_ERR_PARSE;
    }
    at = json_object_get(root, "at");
    if (json_is_integer(at)) m.at = json_integer_value(at);
    by = json_string_value(json_object_get(root, "by"));
    if (by != NULL) {
        size_t n = strnlen(by, sizeof(m.by) - 1);
        memcpy(m.by, by, n);
        m.by[n] = '\0';
    }
    json_decref(root);
    *out = m;
    return MF_OK;
}

mf_status mf_control_read_stored(mf_nats *n, mf_control_msg *out) {
    char subject[MF_SUBJECT_MAX], stream[64];
    jsCtx *own = NULL, *js = mf_nats_js(n);
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    natsStatus ns;
    mf_status s;
    if (mf_subject_control_mode(subject, sizeof(subject), mf_nats_prefix(n)) < 0 ||
        mf_nats_stream_name(n, MF_STREAM_CONTROL, stream, sizeof(stream)) != 0)
        return MF_ERR_CONFIG;
    /* In transport=core there is no context of the connection, but the CONTROL stream may
     * exist all the same (any JetStream service or the nats CLI creates it). */
    if (js == NULL) {
        if (natsConnection_JetStream(&own, mf_nats_conn(n), NULL) != NATS_OK) return MF_ERR_NATS;
        js = own;
    }
    ns = js_GetLastMsg(&msg, js, stream, subject, NULL, &jerr);
    jsCtx_Destroy(own);
    if (ns == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr || jerr == JSNoMessageFoundErr)
        s = MF_ERR_NOT_FOUND;
    else if (ns != NATS_OK)
        s = MF_ERR_NATS;
    else
        s = mf_control_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), out);
    natsMsg_Destroy(msg);
    return s;
}
