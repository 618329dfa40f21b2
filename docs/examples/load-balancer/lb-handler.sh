#!/bin/sh
# Event handler that keeps an nginx upstream list equal to the alive members
# tagged role=web, each serving on the port in its "port" tag, and reloads
# nginx when the list changes.
#
#   usage: lb-handler.sh RPC_ADDR UPSTREAM_FILE [NGINX_ARGS...]
#
# Declare it for every membership change:
#
#   agent run --event-handler \
#     'member-join,member-leave,member-failed,member-update=/etc/agent/lb-handler.sh 127.0.0.1:7373 /etc/nginx/conf.d/upstream-web.conf'
#
# NGINX_ARGS are passed to "nginx ... -s reload" (e.g. -p PREFIX -c CONF).
# It rebuilds the list from the whole member list rather than patching it
# from the event on stdin, so a missed or reordered event cannot leave it
# wrong. Needs the agent CLI on PATH.
set -eu

rpc=$1
upstream=$2
shift 2

cat > /dev/null # the event's member lines: not needed, see above

tmp="$upstream.tmp.$$"
trap 'rm -f "$tmp"' EXIT

servers=$(agent members --rpc-addr "$rpc" --status alive --tag role=web | awk 'NR > 1 {
	split($2, hostport, ":")
	port = ""
	n = split($4, tags, ",")
	for (i = 1; i <= n; i++)
		if (tags[i] ~ /^port=/)
			port = substr(tags[i], 6)
	if (port != "")
		printf "    server %s:%s;\n", hostport[1], port
}' | sort)

{
	echo "# Written by lb-handler.sh from the agent's member list; do not edit."
	echo "upstream web {"
	if [ -n "$servers" ]; then
		echo "$servers"
	else
		echo "    server 127.0.0.1:9 down; # no web member alive"
	fi
	echo "}"
} > "$tmp"

if [ -f "$upstream" ] && cmp -s "$tmp" "$upstream"; then
	echo "upstream unchanged"
	exit 0
fi
mv "$tmp" "$upstream"
echo "upstream now: $(echo "$servers" | awk '{print $2}' | tr -d ';' | tr '\n' ' ')"
nginx "$@" -s reload
