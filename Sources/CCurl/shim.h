#ifndef PERSONA_CCURL_SHIM_H
#define PERSONA_CCURL_SHIM_H

#include <curl/curl.h>
#include <sys/eventfd.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: typed wrappers. */

typedef size_t (*persona_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*persona_curl_xferinfo_cb)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                        curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode persona_easy_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode persona_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode persona_easy_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode persona_easy_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode persona_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode persona_easy_setopt_data_cb(CURL *h, CURLoption o, persona_curl_data_cb v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode persona_easy_setopt_xferinfo_cb(CURL *h, persona_curl_xferinfo_cb v) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v);
}
static inline CURLcode persona_easy_getinfo_long(CURL *h, CURLINFO i, long *out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode persona_easy_getinfo_double(CURL *h, CURLINFO i, double *out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode persona_easy_getinfo_pointer(CURL *h, CURLINFO i, void **out) {
    return curl_easy_getinfo(h, i, out);
}

/* The transfer thread's wake-up: a non-blocking, close-on-exec eventfd, or -1. */
static inline int persona_wake_fd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/* CURLMsg carries a union; reading it from Swift is awkward, so flatten it. */
static inline int persona_multi_next_done(CURLM *m, CURL **easy, CURLcode *result) {
    int queued = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            *easy = msg->easy_handle;
            *result = msg->data.result;
            return 1;
        }
    }
    return 0;
}

static const size_t persona_curl_readfunc_abort = CURL_READFUNC_ABORT;
static const size_t persona_curl_writefunc_pause = CURL_WRITEFUNC_PAUSE;

#endif
