/*
 * sandbox_nft.c - the egress namespace's nftables filter, the layer
 * beside its prohibit routes: routes decide where a packet would go, the
 * filter decides whether it may leave at all, whatever route, interface
 * or source address a socket picked (a bound source, IP_PKTINFO, a
 * multicast or broadcast destination that needs no route).
 *
 * One table, "inet safeurl_egress", loaded with libnftables into the
 * calling thread's network namespace:
 *   output  policy drop: TCP and UDP to port 53 of the DNS forwarder
 *           accepted; the refused ranges (the prohibit routes' table and
 *           the host's addresses) and IPv6 refused; any destination that
 *           is not unicast (local, broadcast, multicast, anycast) dropped;
 *           TCP and UDP out of the egress interface accepted; nothing
 *           else. A refused TCP connection is answered with a reset
 *           (connect fails at once with ECONNREFUSED, not after the SYN
 *           retries), so the resets and unreachables the kernel sends
 *           to this namespace's own addresses are let through; a dropped
 *           datagram fails its send with EPERM.
 *   input   policy drop: loopback (which only those answers can use) and
 *           replies (conntrack established or related), so no socket in
 *           the namespace serves anyone
 * It does not make the namespace, routes or the helper: sandbox_egress.c.
 */
#include "fmacros.h"

#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "sandbox.h"
#include "banned.h"

void sandbox_nft_ruleset(const char *const *refused, size_t n, const char *oif,
			 const char *dns, struct buf *out)
{
	size_t i;

	buf_addstr(out, "table inet " SANDBOX_NFT_TABLE " {\n"
			"\tset refused4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
			"\t\tauto-merge\n\t\telements = { ", NULL);
	for (i = 0; i < n; i++)
		buf_addf(out, NULL, "%s%s", i ? ", " : "", refused[i]);
	buf_addf(out, NULL, " }\n\t}\n"
		 "\tchain output {\n"
		 "\t\ttype filter hook output priority filter; policy drop;\n"
		 "\t\tfib daddr type local tcp flags rst accept\n"
		 "\t\tfib daddr type local icmp type destination-unreachable accept\n"
		 "\t\tfib daddr type local icmpv6 type destination-unreachable accept\n"
		 "\t\tip daddr %s meta l4proto { tcp, udp } th dport 53 accept\n"
		 "\t\tmeta l4proto tcp ip daddr @refused4 reject with tcp reset\n"
		 "\t\tip daddr @refused4 drop\n"
		 "\t\tmeta nfproto ipv6 meta l4proto tcp reject with tcp reset\n"
		 "\t\tmeta nfproto ipv6 drop\n"
		 "\t\tfib daddr type != unicast drop\n"
		 "\t\toifname \"%s\" meta l4proto { tcp, udp } accept\n"
		 "\t\tmeta l4proto tcp reject with tcp reset\n"
		 "\t}\n"
		 "\tchain input {\n"
		 "\t\ttype filter hook input priority filter; policy drop;\n"
		 "\t\tiifname \"lo\" accept\n"
		 "\t\tct state established,related accept\n"
		 "\t}\n}\n", dns, oif);
}

int sandbox_nft_load(const char *ruleset, struct err *e)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *said;
	char msg[200];
	size_t len;
	int rc;

	if (!nft)
		return err_set(e, ERR_UNAVAILABLE, "egress: nftables: cannot make a context");
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	rc = nft_run_cmd_from_buffer(nft, ruleset);
	if (rc) {
		said = nft_ctx_get_error_buffer(nft);
		snprintf(msg, sizeof(msg), "%s", said && *said ? said : "(no message)");
		for (len = strlen(msg); len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '); len--)
			msg[len - 1] = '\0';
		for (len = 0; msg[len]; len++)
			if (msg[len] == '\n' || msg[len] == '\t')
				msg[len] = ' ';
		err_set(e, ERR_UNAVAILABLE,
			"egress: the network's nftables filter was refused "
			"(kernel without nf_tables, nft_fib or conntrack?): %s", msg);
	}
	nft_ctx_free(nft);
	return rc ? -1 : 0;
}
