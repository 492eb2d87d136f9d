#ifndef PERSONA_CCURL_SHIM_H
#define PERSONA_CCURL_SHIM_H

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

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

/* The multi handle's sockets in an epoll set, and its timer as a deadline (CLOCK_MONOTONIC
   nanoseconds, -1 for none): libcurl then visits only the transfers whose sockets are ready, where
   curl_multi_perform checks every transfer's socket with a poll of its own. epoll_event is packed,
   which Swift reads awkwardly, so it stays on this side. */

static inline int64_t persona_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* What the socket callback needs: the epoll set, and the multi handle, on which it marks each
   socket it has added (curl_multi_assign), so that a later change is one EPOLL_CTL_MOD. libcurl
   forgets the mark when it removes a socket, as it does whenever a transfer pauses. */
struct persona_epoll_watch {
    int epoll;
    CURLM *multi;
};

static inline int persona_socket_changed(CURL *easy, curl_socket_t socket, int what, void *watch_pointer, void *added) {
    (void)easy;
    struct persona_epoll_watch *watch = watch_pointer;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(watch->epoll, EPOLL_CTL_DEL, socket, NULL);
        return 0;
    }
    struct epoll_event event = {0};
    event.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    event.data.fd = socket;
    if (added) {
        epoll_ctl(watch->epoll, EPOLL_CTL_MOD, socket, &event);
        return 0;
    }
    if (epoll_ctl(watch->epoll, EPOLL_CTL_ADD, socket, &event) != 0 && errno == EEXIST) {
        epoll_ctl(watch->epoll, EPOLL_CTL_MOD, socket, &event);
    }
    curl_multi_assign(watch->multi, socket, watch);
    return 0;
}

static inline int persona_timer_changed(CURLM *multi, long timeout_ms, void *deadline) {
    (void)multi;
    *(int64_t *)deadline = timeout_ms < 0 ? -1 : persona_monotonic_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

/* Watches the multi handle's sockets in `watch`'s epoll set, which must outlive it, and keeps its
   timer in `deadline`; the wake-up descriptor is watched too. Returns 0 on success. */
static inline int persona_multi_use_epoll(CURLM *multi, struct persona_epoll_watch *watch, int wake_fd, int64_t *deadline) {
    *deadline = -1;
    if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, persona_socket_changed) != CURLM_OK) return -1;
    if (curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, watch) != CURLM_OK) return -1;
    if (curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, persona_timer_changed) != CURLM_OK) return -1;
    if (curl_multi_setopt(multi, CURLMOPT_TIMERDATA, deadline) != CURLM_OK) return -1;
    if (wake_fd < 0) return 0;
    struct epoll_event event = {0};
    event.events = EPOLLIN;
    event.data.fd = wake_fd;
    return epoll_ctl(watch->epoll, EPOLL_CTL_ADD, wake_fd, &event);
}

/* Up to `capacity` ready descriptors, waiting at most `timeout_ms` for the first: each with the
   CURL_CSELECT_* bits that curl_multi_socket_action takes. Returns how many, or -1. */
static inline int persona_epoll_ready(int epoll, int timeout_ms, int *fds, int *actions, int capacity) {
    struct epoll_event events[256];
    int total = 0;
    while (total < capacity) {
        int wanted = capacity - total < 256 ? capacity - total : 256;
        int count = epoll_wait(epoll, events, wanted, total == 0 ? timeout_ms : 0);
        if (count <= 0) return total > 0 ? total : count;
        for (int i = 0; i < count; i++) {
            uint32_t ready = events[i].events;
            fds[total + i] = events[i].data.fd;
            actions[total + i] = ((ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? CURL_CSELECT_IN : 0)
                | ((ready & EPOLLOUT) ? CURL_CSELECT_OUT : 0) | ((ready & EPOLLERR) ? CURL_CSELECT_ERR : 0);
        }
        total += count;
        if (count < wanted) break;
    }
    return total;
}

/* Waits up to `nanoseconds` for `fd` to be readable, in one system call with a timer of that
   precision (poll counts whole milliseconds). Returns 1 if it is, 0 if not, -1 on error. */
static inline int persona_wait_readable(int fd, int64_t nanoseconds) {
    struct pollfd watched = {.fd = fd, .events = POLLIN, .revents = 0};
    struct timespec timeout = {.tv_sec = nanoseconds / 1000000000, .tv_nsec = nanoseconds % 1000000000};
    return ppoll(&watched, 1, &timeout, NULL);
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

static const curl_socket_t persona_socket_timeout = CURL_SOCKET_TIMEOUT;
static const size_t persona_curl_readfunc_abort = CURL_READFUNC_ABORT;
static const size_t persona_curl_writefunc_pause = CURL_WRITEFUNC_PAUSE;

#endif
