/*
 * The network backends against the real kernel and libslirp.
 *
 * tap: in a network namespace of its own (a forked child that unshares
 * CLONE_NEWNET, so nothing reaches the host's network), a tap is created
 * and frames go both ways between the backend and an AF_PACKET socket on
 * the tap.  Checksum offload is proved with an IPv6 link-local UDP
 * datagram the kernel delivers only if the checksum it completes is
 * right.  Multiqueue and the fallback to one queue on an existing
 * single-queue tap are checked too.
 *
 * slirp: a guest-side frame generator speaks ARP and TCP to the slirp
 * stack; a host connection to a hostfwd port on 127.0.0.1 reaches the
 * "guest", and data flows both ways.  Only loopback is used.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "config.h"
#include "mevent.h"
#include "net_backends.h"
#include "test.h"

#define ETYPE_TEST 0x88b5 /* IEEE local experimental */

static const uint8_t guest_mac[6] = {0x02, 0xbe, 0, 0, 0, 0x0f};

static uint16_t
csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* Sends header-less frame f through the backend with header h. */
static ssize_t
be_send(struct net_backend *be, const struct virtio_net_hdr *h, const void *f,
	size_t len)
{
	struct iovec iov[2] = {
	    {(void *)h, netbe_hdrlen(be)},
	    {(void *)f, len},
	};

	return netbe_send(be, 0, iov, 2);
}

/* The next frame of ethertype etype within ms; its length or -1. */
static ssize_t
be_wait(struct net_backend *be, uint16_t etype, uint8_t *buf, size_t len,
	int ms)
{
	struct pollfd pfd = {.fd = netbe_rx_fd(be, 0), .events = POLLIN};
	ssize_t n;
	int waited = 0;

	while (waited < ms) {
		n = netbe_recv(be, 0, buf, len);
		if (n < 0)
			return -1;
		if (n > 0) {
			size_t h = netbe_hdrlen(be);

			if ((size_t)n >= h + 14 && get16(buf + h + 12) == etype)
				return n;
			continue;
		}
		poll(&pfd, 1, 50);
		waited += 50;
	}
	return -1;
}

/* ---- tap, inside a private network namespace ---- */

static void
write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			perror(path);
		close(fd);
	}
}

static bool
link_up(const char *name, uint8_t mac[6])
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
	ok = ok && ioctl(s, SIOCGIFHWADDR, &ifr) == 0;
	if (ok)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
	return ok;
}

struct in6_ifreq_compat {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

static bool
add_ll_addr(int ifindex, const char *addr)
{
	struct in6_ifreq_compat r = {.prefixlen = 64, .ifindex = ifindex};
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	bool ok;

	inet_pton(AF_INET6, addr, &r.addr);
	ok = ioctl(s, SIOCSIFADDR, &r) == 0;
	close(s);
	return ok;
}

static int
packet_socket(int ifindex)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETYPE_TEST),
				  .sll_ifindex = ifindex};
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETYPE_TEST));

	if (s >= 0 && bind(s, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		close(s);
		return -1;
	}
	return s;
}

static size_t
test_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
	   const char *payload)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, ETYPE_TEST);
	memcpy(f + 14, payload, strlen(payload));
	return 14 + strlen(payload);
}

/* Ethernet + IPv6 fe80::2 -> fe80::1 + UDP 5555 -> 7777. */
static size_t
udp6_frame(uint8_t *f, const uint8_t *dst, const char *payload, bool full_csum)
{
	size_t plen = strlen(payload), ulen = 8 + plen;
	uint8_t *ip = f + 14, *udp = ip + 40, pseudo[40];
	uint16_t sum;

	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x86dd);
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)ulen);
	ip[6] = 17;
	ip[7] = 64;
	inet_pton(AF_INET6, "fe80::2", ip + 8);
	inet_pton(AF_INET6, "fe80::1", ip + 24);
	put16(udp, 5555);
	put16(udp + 2, 7777);
	put16(udp + 4, (uint16_t)ulen);
	put16(udp + 6, 0);
	memcpy(udp + 8, payload, plen);
	/* RFC 8200, 8.1: the pseudo-header. */
	memcpy(pseudo, ip + 8, 32);
	put32(pseudo + 32, (uint32_t)ulen);
	memset(pseudo + 36, 0, 3);
	pseudo[39] = 17;
	sum = csum_add(0, pseudo, sizeof(pseudo));
	if (full_csum)
		put16(udp + 6, (uint16_t)~csum_add(sum, udp, ulen));
	else
		put16(udp + 6, sum); /* what NEEDS_CSUM expects (5.1.6.2) */
	return 14 + 40 + ulen;
}

static bool
udp_wait(int s, const char *want, int ms)
{
	struct pollfd pfd = {.fd = s, .events = POLLIN};
	char buf[256];
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	n = recv(s, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

static void
tap_offload(struct net_backend *be, const uint8_t *tapmac, int ifindex)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
				  .sin6_port = htons(7777),
				  .sin6_scope_id = (uint32_t)ifindex};
	struct virtio_net_hdr h = {0};
	uint8_t f[256];
	size_t fl;
	int s, i;

	CHECK(add_ll_addr(ifindex, "fe80::1"), "tap: fe80::1 on the tap");
	inet_pton(AF_INET6, "fe80::1", &sa.sin6_addr);
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	/* The new address becomes usable a moment later, even without DAD. */
	for (i = 0; i < 40 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0;
	     i++)
		usleep(50000);
	CHECK(s >= 0 && i < 40, "tap: UDP socket on [fe80::1%tap]:7777");

	fl = udp6_frame(f, tapmac, "software-csum", true);
	be_send(be, &h, f, fl);
	CHECK(udp_wait(s, "software-csum", 2000),
	      "tap: datagram with a full checksum delivered");

	fl = udp6_frame(f, tapmac, "partial-no-flag", false);
	be_send(be, &h, f, fl);
	CHECK(!udp_wait(s, "partial-no-flag", 300),
	      "tap: partial checksum without NEEDS_CSUM is dropped");

	fl = udp6_frame(f, tapmac, "offloaded-csum", false);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 14 + 40;
	h.csum_offset = 6;
	CHECK(be_send(be, &h, f, fl) == (ssize_t)(netbe_hdrlen(be) + fl),
	      "tap: NEEDS_CSUM frame accepted");
	CHECK(udp_wait(s, "offloaded-csum", 2000),
	      "tap: NEEDS_CSUM datagram delivered (kernel completed it)");
	close(s);
}

/*
 * Scattered receive (virtio-net's zero-copy path), 12-byte header: the
 * header and frame spread over small pieces in order; a frame longer than
 * the iovec is cut to it.
 */
static void
tap_recvv(struct net_backend *be, int ps, const uint8_t *f, size_t fl)
{
	uint8_t a[7], b[20], c[NETBE_MAX_FRAME], all[12 + 256];
	struct iovec iov[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};
	struct pollfd pfd = {.fd = netbe_rx_fd(be, 0), .events = POLLIN};
	ssize_t n = -1;
	int i;

	CHECK(netbe_has_recvv(be), "tap: scattered receive offered");
	CHECK(send(ps, f, fl, 0) == (ssize_t)fl, "tap: host sends for recvv");
	for (i = 0; i < 40 && (n = netbe_recvv(be, 0, iov, 3)) == 0; i++)
		poll(&pfd, 1, 50);
	memcpy(all, a, sizeof(a));
	memcpy(all + sizeof(a), b, sizeof(b));
	memcpy(all + sizeof(a) + sizeof(b), c, fl + 12 - sizeof(a) - sizeof(b));
	CHECK(n == (ssize_t)(12 + fl) && memcmp(all + 12, f, fl) == 0,
	      "tap: recvv scatters header and frame over three pieces");
	CHECK(send(ps, f, fl, 0) == (ssize_t)fl, "tap: host sends again");
	iov[2].iov_len = 10;
	for (i = 0; i < 40 && (n = netbe_recvv(be, 0, iov, 3)) == 0; i++)
		poll(&pfd, 1, 50);
	/* Kernels before 4.x told the full length; current ones the cut. */
	CHECK((n == 7 + 20 + 10 || n == (ssize_t)(12 + fl)) &&
		  memcmp(b + 5, f, 15) == 0 && memcmp(c, f + 15, 10) == 0,
	      "tap: a frame longer than the iovec is cut to it");
	CHECK(netbe_recvv(be, 0, iov, 3) == 0, "tap: recvv: nothing waiting");
	CHECK(netbe_recvv(be, 0, iov, 0) < 0 && errno == EINVAL &&
		  netbe_recvv(be, 1, iov, 3) < 0,
	      "tap: recvv refuses no buffers and a queue out of range");
}

static void
tap_frames(struct net_backend *be, const uint8_t *tapmac, int ifindex)
{
	struct virtio_net_hdr h = {0};
	uint8_t f[256], got[NETBE_MAX_FRAME + 12];
	struct pollfd pfd;
	size_t fl;
	ssize_t n;
	int ps = packet_socket(ifindex);

	CHECK(ps >= 0, "tap: packet socket on the tap");
	fl = test_frame(f, tapmac, guest_mac, "guest-to-host");
	CHECK(be_send(be, &h, f, fl) == (ssize_t)(10 + fl),
	      "tap: send takes header + frame");
	pfd = (struct pollfd){.fd = ps, .events = POLLIN};
	n = poll(&pfd, 1, 2000) == 1 ? recv(ps, got, sizeof(got), 0) : -1;
	CHECK(n == (ssize_t)fl && memcmp(got, f, fl) == 0,
	      "tap: the frame arrives on the host side intact");

	fl = test_frame(f, guest_mac, tapmac, "host-to-guest");
	CHECK(send(ps, f, fl, 0) == (ssize_t)fl, "tap: host sends a frame");
	n = be_wait(be, ETYPE_TEST, got, sizeof(got), 2000);
	CHECK(n == (ssize_t)(10 + fl) && memcmp(got + 10, f, fl) == 0 &&
		  got[1] == VIRTIO_NET_HDR_GSO_NONE,
	      "tap: the backend receives it behind a 10-byte header");

	CHECK(netbe_set_cap(be, NETBE_OFFLOADS, 12) == 0 &&
		  netbe_hdrlen(be) == 12,
	      "tap: offloads and a 12-byte header negotiated");
	CHECK(send(ps, f, fl, 0) == (ssize_t)fl, "tap: host sends again");
	n = be_wait(be, ETYPE_TEST, got, sizeof(got), 2000);
	CHECK(n == (ssize_t)(12 + fl) && memcmp(got + 12, f, fl) == 0,
	      "tap: now behind a 12-byte header");
	tap_recvv(be, ps, f, fl);
	CHECK(netbe_set_cap(be, 0, 10) == 0, "tap: back to no offloads");
	CHECK(netbe_set_cap(be, 0, 11) != 0, "tap: header length 11 refused");
	close(ps);
}

static void
tap_multiqueue(void)
{
	struct net_backend *be;
	char err[256];
	int one = 1, zero = 0;

	be = netbe_open("tap=bvt1", NULL, 2, err, sizeof(err));
	CHECK(be != NULL && netbe_queues(be) == 2 &&
		  netbe_rx_fd(be, 0) != netbe_rx_fd(be, 1) &&
		  netbe_tap_fd(be, 1) >= 0,
	      "tap: two queues, two file descriptors");
	if (be != NULL) {
		CHECK(netbe_set_active(be, 1) == 0 &&
			  netbe_set_active(be, 2) == 0 &&
			  netbe_set_active(be, 3) != 0,
		      "tap: queues detached and re-attached; 3 refused");
		netbe_close(be);
	}

	/* An existing single-queue tap: carry on with one queue. */
	be = netbe_open("tap2", NULL, 1, err, sizeof(err));
	CHECK(be != NULL && ioctl(netbe_tap_fd(be, 0), TUNSETPERSIST, one) == 0,
	      "tap: persistent single-queue tap2");
	netbe_close(be);
	be = netbe_open("tap2", NULL, 4, err, sizeof(err));
	CHECK(be != NULL && netbe_queues(be) == 1,
	      "tap: queues=4 on a single-queue tap falls back to 1");
	if (be != NULL) {
		ioctl(netbe_tap_fd(be, 0), TUNSETPERSIST, zero);
		netbe_close(be);
	}
}

/* tapfd: a tap a parent (bhyvezone) opened, adopted as it is. */
static void
tap_adopt(void)
{
	struct config_node *n;
	struct net_backend *be;
	struct ifreq ifr;
	char err[256], num[16];
	int fd, devnull;

	init_config();
	n = create_config_node("t.tapfd");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "bvt3");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	fd = open("/dev/net/tun", O_RDWR);
	CHECK(fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0,
	      "tapfd: a parent opens tap bvt3");
	snprintf(num, sizeof(num), "%d", fd);
	set_config_value_node(n, "tapfd", num);
	be = netbe_open("tap=bvt3", n, 4, err, sizeof(err));
	CHECK(be != NULL && netbe_tap_fd(be, 0) == fd &&
		  netbe_queues(be) == 1 &&
		  (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0 &&
		  (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
	      "tapfd: the descriptor is adopted (one queue, non-blocking, "
	      "close-on-exec)");
	if (be != NULL)
		netbe_close(be);
	devnull = open("/dev/null", O_RDWR);
	snprintf(num, sizeof(num), "%d", devnull);
	set_config_value_node(n, "tapfd", num);
	CHECK(netbe_open("tap=bvt3", n, 1, err, sizeof(err)) == NULL &&
		  strstr(err, "is not an open tap") != NULL,
	      "tapfd: a descriptor that is no tap is refused");
	set_config_value_node(n, "tapfd", "x1");
	CHECK(netbe_open("tap=bvt3", n, 1, err, sizeof(err)) == NULL &&
		  strstr(err, "invalid tapfd 'x1'") != NULL,
	      "tapfd: a malformed number is refused");
	close(devnull);
	fini_config();
}

static int
tap_child(void)
{
	struct net_backend *be;
	uint8_t tapmac[6];
	char err[256];
	int ifindex;

	if (unshare(CLONE_NEWNET) != 0) {
		printf("FAIL: tap: unshare(CLONE_NEWNET): %s (needs root)\n",
		       strerror(errno));
		return 1;
	}
	/* No duplicate address detection: fe80::1 is usable at once. */
	write_file("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
	write_file("/proc/sys/net/ipv6/conf/all/accept_dad", "0");
	be = netbe_open("tap=bvt0", NULL, 1, err, sizeof(err));
	CHECK(be != NULL && strcmp(netbe_type(be), "tap") == 0 &&
		  netbe_queues(be) == 1,
	      "tap: new tap bvt0 created");
	if (be == NULL) {
		printf("    %s\n", err);
		return test_done();
	}
	CHECK((netbe_get_cap(be) & NETBE_OFFLOADS) == NETBE_OFFLOADS &&
		  netbe_hdrlen(be) == 10,
	      "tap: offloads available, 10-byte header by default");
	ifindex = (int)if_nametoindex("bvt0");
	CHECK(ifindex > 0 && link_up("bvt0", tapmac), "tap: link up");
	tap_frames(be, tapmac, ifindex);
	tap_offload(be, tapmac, ifindex);
	netbe_close(be);
	tap_multiqueue();
	tap_adopt();
	return test_done();
}

static void
test_tap(void)
{
	char err[256];
	pid_t pid;
	int st;

	CHECK(netbe_open("tap=", NULL, 1, err, sizeof(err)) == NULL &&
		  strstr(err, "invalid tap") != NULL,
	      "tap: empty name refused");
	CHECK(netbe_open("tap=abcdefghijklmnopq", NULL, 1, err, sizeof(err)) ==
		  NULL,
	      "tap: name longer than IFNAMSIZ refused");
	CHECK(netbe_open("nosuch", NULL, 1, err, sizeof(err)) == NULL &&
		  strstr(err, "unknown network backend") != NULL,
	      "unknown backend refused");
	CHECK(netbe_open(NULL, NULL, 1, err, sizeof(err)) == NULL,
	      "missing backend refused");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int rc = tap_child();

		fflush(stdout);
		_exit(rc);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		  WEXITSTATUS(st) == 0,
	      "tap: namespace child passed");
}

/* ---- slirp ---- */

#ifdef HAVE_LIBSLIRP

static const uint8_t guest_ip[4] = {10, 0, 2, 15};
static const uint8_t gw_ip[4] = {10, 0, 2, 2};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void *
mevent_thread(void *arg)
{
	mevent_dispatch();
	return NULL;
}

static size_t
arp_request(uint8_t *f)
{
	uint8_t *a = f + 14;

	memcpy(f, bcast, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	put16(a, 1);	      /* Ethernet */
	put16(a + 2, 0x0800); /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, guest_ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, gw_ip, 4);
	return 14 + 28;
}

struct tcpconn {
	uint8_t peer_mac[6];
	uint8_t peer_ip[4];
	uint16_t peer_port;
	uint32_t snd_nxt, rcv_nxt;
};

/* Ethernet + IPv4 + TCP (no options) from the guest to the peer. */
static size_t
tcp_frame(uint8_t *f, const struct tcpconn *c, uint8_t flags, const char *data)
{
	size_t dl = data ? strlen(data) : 0, tl = 20 + dl;
	uint8_t *ip = f + 14, *t = ip + 20, pseudo[12];
	uint16_t sum;

	memcpy(f, c->peer_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tl));
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, guest_ip, 4);
	memcpy(ip + 16, c->peer_ip, 4);
	put16(ip + 10, (uint16_t)~csum_add(0, ip, 20));
	memset(t, 0, 20);
	put16(t, 8080);
	put16(t + 2, c->peer_port);
	put32(t + 4, c->snd_nxt);
	put32(t + 8, c->rcv_nxt);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	if (dl)
		memcpy(t + 20, data, dl);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)tl);
	sum = csum_add(0, pseudo, sizeof(pseudo));
	put16(t + 16, (uint16_t)~csum_add(sum, t, tl));
	return 14 + 20 + tl;
}

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* The next TCP segment to guest port 8080; its TCP header offset. */
static size_t
tcp_wait(struct net_backend *be, uint8_t *buf, size_t len, size_t *plen, int ms)
{
	size_t h = netbe_hdrlen(be);
	ssize_t n;
	int left = ms;

	while (left > 0) {
		n = be_wait(be, 0x0800, buf, len, 100);
		left -= 100;
		if (n < (ssize_t)(h + 14 + 40))
			continue;
		uint8_t *ip = buf + h + 14;
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		uint8_t *t = ip + ihl;

		if (ip[9] != 6 || get16(t + 2) != 8080)
			continue;
		*plen = get16(ip + 2) - ihl - (size_t)(t[12] >> 4) * 4;
		return (size_t)(t - buf);
	}
	return 0;
}

static int
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(s, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(s);
	return port;
}

static void
slirp_bad_rules(void)
{
	static const char *const bad[] = {
	    "tcp:127.0.0.1:0-:80", "sctp::1000-:80", "tcp:1.2.3:1000-:80",
	    "tcp::1000-:70000",	   "tcp:1000:80",
	};
	struct config_node *n = create_config_node("t.bad");
	char err[256], name[96];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_config_value_node(n, "hostfwd", bad[i]);
		snprintf(name, sizeof(name), "slirp: hostfwd '%s' refused",
			 bad[i]);
		CHECK(netbe_open("slirp", n, 1, err, sizeof(err)) == NULL &&
			  strstr(err, "hostfwd") != NULL,
		      name);
	}
}

static void
slirp_tcp(struct net_backend *be, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	struct virtio_net_hdr h = {0};
	uint8_t buf[4096], f[256];
	struct tcpconn c;
	struct pollfd pfd;
	size_t t, plen = 0, fl;
	char got[64] = "";
	int s;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	      "slirp: host connects to the forwarded port on 127.0.0.1");
	t = tcp_wait(be, buf, sizeof(buf), &plen, 3000);
	CHECK(t != 0 && (buf[t + 13] & TCP_SYN),
	      "slirp: the guest gets a SYN to port 8080");
	if (t == 0)
		goto out;
	memcpy(c.peer_mac, buf + netbe_hdrlen(be) + 6, 6);
	memcpy(c.peer_ip, buf + netbe_hdrlen(be) + 14 + 12, 4);
	c.peer_port = get16(buf + t);
	c.rcv_nxt = get32(buf + t + 4) + 1;
	c.snd_nxt = 1000;
	fl = tcp_frame(f, &c, TCP_SYN | TCP_ACK, NULL);
	be_send(be, &h, f, fl);
	c.snd_nxt++;

	CHECK(send(s, "ping-from-host", 14, 0) == 14, "slirp: host sends");
	do {
		t = tcp_wait(be, buf, sizeof(buf), &plen, 3000);
	} while (t != 0 && plen == 0);
	CHECK(t != 0 && plen == 14 &&
		  memcmp(buf + t + 20, "ping-from-host", 14) == 0,
	      "slirp: the guest receives the host's data");
	if (t == 0)
		goto out;
	c.rcv_nxt = get32(buf + t + 4) + (uint32_t)plen;
	fl = tcp_frame(f, &c, TCP_PSH | TCP_ACK, "pong-from-guest");
	be_send(be, &h, f, fl);
	c.snd_nxt += 15;
	pfd = (struct pollfd){.fd = s, .events = POLLIN};
	if (poll(&pfd, 1, 3000) == 1 && recv(s, got, sizeof(got) - 1, 0) > 0)
		CHECK(strcmp(got, "pong-from-guest") == 0,
		      "slirp: the host receives the guest's data");
	else
		CHECK(0, "slirp: the host receives the guest's data");
	fl = tcp_frame(f, &c, TCP_FIN | TCP_ACK, NULL);
	be_send(be, &h, f, fl);
out:
	close(s);
}

static void
test_slirp(void)
{
	struct net_backend *be, *be2;
	struct virtio_net_hdr h = {0};
	struct config_node *n;
	uint8_t buf[4096], f[128];
	char rule[96], err[256];
	pthread_t th;
	size_t fl;
	ssize_t r;
	int port = free_port();

	init_config();
	if (mevent_init() != 0 ||
	    pthread_create(&th, NULL, mevent_thread, NULL) != 0) {
		printf("FAIL: slirp: cannot start the mevent loop\n");
		return;
	}
	slirp_bad_rules();
	n = create_config_node("t.slirp");
	snprintf(rule, sizeof(rule), "tcp:127.0.0.1:%d-:8080", port);
	set_config_value_node(n, "hostfwd", rule);
	be = netbe_open("slirp", n, 4, err, sizeof(err));
	CHECK(be != NULL && netbe_queues(be) == 1 &&
		  (netbe_get_cap(be) & NETBE_OFFLOADS) == 0,
	      "slirp: backend with a hostfwd rule, one queue, no offloads");
	if (be == NULL) {
		printf("    %s\n", err);
		goto out;
	}
	be2 = netbe_open("slirp", n, 1, err, sizeof(err));
	CHECK(be2 == NULL && strstr(err, "cannot listen") != NULL,
	      "slirp: a second forward of the same port is refused");
	netbe_close(be2);

	fl = arp_request(f);
	CHECK(be_send(be, &h, f, fl) == (ssize_t)(10 + fl),
	      "slirp: guest ARP request sent");
	r = be_wait(be, 0x0806, buf, sizeof(buf), 2000);
	CHECK(r >= 10 + 42 && get16(buf + 10 + 14 + 6) == 2 &&
		  memcmp(buf + 10 + 14 + 14, gw_ip, 4) == 0 &&
		  memcmp(buf + 10, guest_mac, 6) == 0,
	      "slirp: the gateway 10.0.2.2 answers ARP");
	CHECK(netbe_set_cap(be, 0, 12) == 0, "slirp: 12-byte header");
	slirp_tcp(be, port);
	netbe_close(be);
out:
	mevent_exit(0);
	pthread_join(th, NULL);
	mevent_fini();
	fini_config();
}

#endif

int
main(void)
{
	test_tap();
#ifdef HAVE_LIBSLIRP
	test_slirp();
#else
	printf("FAIL: slirp: built without libslirp (scripts/setup "
	       "installs libslirp-dev)\n");
#endif
	return test_done();
}
