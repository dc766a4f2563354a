/*
 * vifq_nlsock: the smallest netlink socket Node needs.
 *
 * One AF_NETLINK datagram socket per object, non-blocking, polled by libuv.
 * What npm `netlink` 0.3.0 cannot do and this does: arbitrary integer
 * setsockopt (NETLINK_EXT_ACK, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK,
 * NETLINK_NO_ENOBUFS...), opening the socket inside another network
 * namespace (setns on the calling thread, socket(), setns back), and one
 * recvmsg per datagram (no MSG_PEEK round trip).
 *
 * JS API (see src/netlink/transport.ts):
 *   new NlSocket(protocol, netnsPath|null, onMessage(buf, truncatedLen),
 *                onError(errno, syscall))
 *   send(buf) -> bytes sent (throws on error, synchronous: a netlink
 *                request to the kernel is processed in the sender's context)
 *   setsockoptInt(level, name, value), getsockoptInt(level, name)
 *   addMembership(group), dropMembership(group), portId(), close(),
 *   ref(), unref()
 *   sdNotify(path, message): one sd_notify datagram (sdnotify.c)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include <node_api.h>
#include <uv.h>

#include "sdnotify.h"
#include "throw.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define RECV_BUF_SIZE (256 * 1024) /* > any netlink skb the kernel builds */
#define RECV_BATCH 64              /* datagrams per poll wake-up */

typedef struct nlsock {
	uv_poll_t poll; /* first member: handle -> struct */
	napi_env env;
	napi_ref self;       /* strong while open */
	napi_ref on_message; /* strong while open */
	napi_ref on_error;
	napi_async_context actx;
	int fd;
	int open;
	int polling;
	int closing;   /* uv_close() called on the poll handle */
	int closed;    /* ... and libuv is done with it */
	int finalized; /* the JS object is gone */
	char *buf;
} nlsock;

#define CHECK(call)                                                            \
	do {                                                                   \
		if ((call) != napi_ok) {                                       \
			napi_throw_error(env, "EINTERNAL", #call " failed");   \
			return NULL;                                           \
		}                                                              \
	} while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall)
{
	return vifq_throw_errno(env, err, syscall, NULL);
}

/* The struct goes when both libuv (handle closed) and JS (finalized) are done with it. */
static void poll_closed(uv_handle_t *h)
{
	nlsock *s = (nlsock *)h;
	s->closed = 1;
	if (s->finalized) {
		free(s->buf);
		free(s);
	}
}

/*
 * Release everything but the struct itself. The poll handle is closed here, before the fd:
 * closing it later (at GC) would make libuv drop the fd number from epoll when a newer
 * socket may already have that number, and that socket would never be read again.
 */
static void do_close(nlsock *s)
{
	napi_env env = s->env;

	if (!s->open)
		return;
	s->open = 0;
	uv_poll_stop(&s->poll);
	s->closing = 1;
	uv_close((uv_handle_t *)&s->poll, poll_closed);
	close(s->fd);
	s->fd = -1;
	napi_delete_reference(env, s->on_message);
	napi_delete_reference(env, s->on_error);
	napi_async_destroy(env, s->actx);
	napi_reference_unref(env, s->self, NULL);
}

static void finalize(napi_env env, void *data, void *hint)
{
	nlsock *s = data;
	(void)hint;
	do_close(s);
	napi_delete_reference(env, s->self);
	s->finalized = 1;
	if (s->closed) {
		free(s->buf);
		free(s);
	}
}

static void call_js(nlsock *s, napi_ref fn_ref, int argc, napi_value *argv)
{
	napi_env env = s->env;
	napi_value fn, recv, result;

	napi_get_reference_value(env, fn_ref, &fn);
	napi_get_reference_value(env, s->self, &recv);
	if (napi_make_callback(env, s->actx, recv, fn, argc, argv, &result) ==
	    napi_pending_exception) {
		napi_value exc;
		napi_get_and_clear_last_exception(env, &exc);
		napi_fatal_exception(env, exc);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	nlsock *s = (nlsock *)h;
	napi_env env = s->env;
	napi_handle_scope scope;
	int n;

	(void)events;
	napi_open_handle_scope(env, &scope);
	if (status < 0) {
		napi_value argv[2];
		napi_create_int32(env, -status, &argv[0]);
		napi_create_string_utf8(env, "poll", NAPI_AUTO_LENGTH, &argv[1]);
		call_js(s, s->on_error, 2, argv);
		goto out;
	}
	for (n = 0; n < RECV_BATCH && s->open; n++) {
		struct sockaddr_nl addr;
		struct iovec iov = { .iov_base = s->buf, .iov_len = RECV_BUF_SIZE };
		struct msghdr mh = { .msg_name = &addr, .msg_namelen = sizeof(addr),
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t len;
		napi_value argv[2];
		void *data;

		do {
			len = recvmsg(s->fd, &mh, MSG_TRUNC | MSG_DONTWAIT);
		} while (len < 0 && errno == EINTR);
		if (len < 0) {
			int err = errno;
			if (err == EAGAIN || err == EWOULDBLOCK)
				break;
			napi_create_int32(env, err, &argv[0]);
			napi_create_string_utf8(env, "recvmsg", NAPI_AUTO_LENGTH, &argv[1]);
			call_js(s, s->on_error, 2, argv);
			if (err == ENOBUFS)
				continue; /* overrun reported; the socket still works */
			break;
		}
		if (len > RECV_BUF_SIZE) {
			napi_create_buffer_copy(env, RECV_BUF_SIZE, s->buf, &data, &argv[0]);
			napi_create_int64(env, len, &argv[1]);
		} else {
			napi_create_buffer_copy(env, (size_t)len, s->buf, &data, &argv[0]);
			napi_create_int32(env, 0, &argv[1]);
		}
		call_js(s, s->on_message, 2, argv);
	}
out:
	napi_close_handle_scope(env, scope);
}

static nlsock *unwrap(napi_env env, napi_callback_info info, size_t *argc,
		      napi_value *argv, int need_open)
{
	napi_value self;
	nlsock *s = NULL;

	if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok ||
	    napi_unwrap(env, self, (void **)&s) != napi_ok || !s) {
		napi_throw_error(env, "EINTERNAL", "not an NlSocket");
		return NULL;
	}
	if (need_open && !s->open) {
		throw_errno(env, EBADF, "closed socket");
		return NULL;
	}
	return s;
}

static int open_in_netns(const char *path, int protocol, int *err_out, const char **where)
{
	int orig = -1, target = -1, fd = -1, err = 0;

	orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0) { err = errno; *where = "open(/proc/thread-self/ns/net)"; goto out; }
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) { err = errno; *where = "open(netns)"; goto out; }
	if (setns(target, CLONE_NEWNET) < 0) { err = errno; *where = "setns"; goto out; }
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
	if (fd < 0) { err = errno; *where = "socket"; }
	if (setns(orig, CLONE_NEWNET) < 0)
		abort(); /* the main thread left in a foreign netns is worse than a crash */
out:
	if (orig >= 0) close(orig);
	if (target >= 0) close(target);
	*err_out = err;
	return fd;
}

static napi_value js_new(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4], self, name;
	napi_valuetype t;
	int32_t protocol;
	char nspath[4096];
	int fd, err = 0;
	const char *where = "socket";
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
	nlsock *s;
	uv_loop_t *loop;

	CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
	if (argc < 4 || napi_get_value_int32(env, argv[0], &protocol) != napi_ok) {
		napi_throw_type_error(env, NULL, "NlSocket(protocol, netns, onMessage, onError)");
		return NULL;
	}
	CHECK(napi_typeof(env, argv[1], &t));
	if (t == napi_string) {
		size_t l;
		CHECK(napi_get_value_string_utf8(env, argv[1], nspath, sizeof(nspath), &l));
		fd = open_in_netns(nspath, protocol, &err, &where);
	} else {
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
		if (fd < 0)
			err = errno;
	}
	if (fd < 0)
		return throw_errno(env, err, where);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = errno;
		close(fd);
		return throw_errno(env, err, "bind");
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->buf = malloc(RECV_BUF_SIZE))) {
		free(s);
		close(fd);
		return throw_errno(env, ENOMEM, "malloc");
	}
	s->env = env;
	s->fd = fd;
	CHECK(napi_get_uv_event_loop(env, &loop));
	if ((err = uv_poll_init(loop, &s->poll, fd)) < 0) {
		free(s->buf);
		free(s);
		close(fd);
		return throw_errno(env, -err, "uv_poll_init");
	}
	CHECK(napi_create_reference(env, argv[2], 1, &s->on_message));
	CHECK(napi_create_reference(env, argv[3], 1, &s->on_error));
	CHECK(napi_create_string_utf8(env, "vifq:NlSocket", NAPI_AUTO_LENGTH, &name));
	CHECK(napi_async_init(env, self, name, &s->actx));
	CHECK(napi_wrap(env, self, s, finalize, NULL, &s->self));
	CHECK(napi_reference_ref(env, s->self, NULL)); /* alive while open */
	s->open = 1;
	if ((err = uv_poll_start(&s->poll, UV_READABLE, on_poll)) < 0) {
		do_close(s);
		return throw_errno(env, -err, "uv_poll_start");
	}
	return self;
}

static napi_value js_send(napi_env env, napi_callback_info info)
{
	size_t argc = 1, len;
	napi_value argv[1], ret;
	void *data;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	ssize_t n;
	nlsock *s = unwrap(env, info, &argc, argv, 1);

	if (!s)
		return NULL;
	if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "send(buffer)");
		return NULL;
	}
	do {
		n = sendto(s->fd, data, len, 0, (struct sockaddr *)&to, sizeof(to));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return throw_errno(env, errno, "sendto");
	napi_create_int64(env, n, &ret);
	return ret;
}

static napi_value js_setsockopt(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	int32_t level, opt, val;
	nlsock *s = unwrap(env, info, &argc, argv, 1);

	if (!s)
		return NULL;
	if (napi_get_value_int32(env, argv[0], &level) != napi_ok ||
	    napi_get_value_int32(env, argv[1], &opt) != napi_ok ||
	    napi_get_value_int32(env, argv[2], &val) != napi_ok) {
		napi_throw_type_error(env, NULL, "setsockoptInt(level, name, value)");
		return NULL;
	}
	if (setsockopt(s->fd, level, opt, &val, sizeof(val)) < 0)
		return throw_errno(env, errno, "setsockopt");
	return NULL;
}

static napi_value js_getsockopt(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], ret;
	int32_t level, opt;
	int val = 0;
	socklen_t l = sizeof(val);
	nlsock *s = unwrap(env, info, &argc, argv, 1);

	if (!s)
		return NULL;
	if (napi_get_value_int32(env, argv[0], &level) != napi_ok ||
	    napi_get_value_int32(env, argv[1], &opt) != napi_ok) {
		napi_throw_type_error(env, NULL, "getsockoptInt(level, name)");
		return NULL;
	}
	if (getsockopt(s->fd, level, opt, &val, &l) < 0)
		return throw_errno(env, errno, "getsockopt");
	napi_create_int32(env, val, &ret);
	return ret;
}

static napi_value membership(napi_env env, napi_callback_info info, int opt)
{
	size_t argc = 1;
	napi_value argv[1];
	uint32_t group;
	nlsock *s = unwrap(env, info, &argc, argv, 1);

	if (!s)
		return NULL;
	if (napi_get_value_uint32(env, argv[0], &group) != napi_ok) {
		napi_throw_type_error(env, NULL, "group must be a number");
		return NULL;
	}
	if (setsockopt(s->fd, SOL_NETLINK, opt, &group, sizeof(group)) < 0)
		return throw_errno(env, errno, "setsockopt(membership)");
	return NULL;
}

static napi_value js_add_membership(napi_env env, napi_callback_info info)
{
	return membership(env, info, NETLINK_ADD_MEMBERSHIP);
}

static napi_value js_drop_membership(napi_env env, napi_callback_info info)
{
	return membership(env, info, NETLINK_DROP_MEMBERSHIP);
}

static napi_value js_port_id(napi_env env, napi_callback_info info)
{
	size_t argc = 0;
	struct sockaddr_nl addr;
	socklen_t l = sizeof(addr);
	napi_value ret;
	nlsock *s = unwrap(env, info, &argc, NULL, 1);

	if (!s)
		return NULL;
	if (getsockname(s->fd, (struct sockaddr *)&addr, &l) < 0)
		return throw_errno(env, errno, "getsockname");
	napi_create_uint32(env, addr.nl_pid, &ret);
	return ret;
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
	size_t argc = 0;
	nlsock *s = unwrap(env, info, &argc, NULL, 0);

	if (s)
		do_close(s);
	return NULL;
}

static napi_value js_ref(napi_env env, napi_callback_info info)
{
	size_t argc = 0;
	nlsock *s = unwrap(env, info, &argc, NULL, 0);

	if (s && s->open)
		uv_ref((uv_handle_t *)&s->poll);
	return NULL;
}

static napi_value js_unref(napi_env env, napi_callback_info info)
{
	size_t argc = 0;
	nlsock *s = unwrap(env, info, &argc, NULL, 0);

	if (s && s->open)
		uv_unref((uv_handle_t *)&s->poll);
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor methods[] = {
		{ "send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL },
		{ "setsockoptInt", NULL, js_setsockopt, NULL, NULL, NULL, napi_default, NULL },
		{ "getsockoptInt", NULL, js_getsockopt, NULL, NULL, NULL, napi_default, NULL },
		{ "addMembership", NULL, js_add_membership, NULL, NULL, NULL, napi_default, NULL },
		{ "dropMembership", NULL, js_drop_membership, NULL, NULL, NULL, napi_default, NULL },
		{ "portId", NULL, js_port_id, NULL, NULL, NULL, napi_default, NULL },
		{ "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
		{ "ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL },
		{ "unref", NULL, js_unref, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_value cls;

	if (napi_define_class(env, "NlSocket", NAPI_AUTO_LENGTH, js_new, NULL,
			      sizeof(methods) / sizeof(methods[0]), methods, &cls) != napi_ok)
		return NULL;
	napi_set_named_property(env, exports, "NlSocket", cls);
	return vifq_sdnotify_init(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
