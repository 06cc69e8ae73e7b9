#!/usr/bin/env bash
# t501: the fetcher against the local fixture server (HTTP and HTTPS with
# a test CA): verdicts of the documented table for benign, phishing,
# hidden-iframe, executable and EICAR pages; redirect chains, including
# ones that end on private and metadata addresses; every limit (time,
# body on the wire and decompressed, headers, redirects); fetch errors
# with their codes; blocklists; usage errors. Every document validates
# against docs/fetcher-output.schema.json. Runs in its own network
# namespace (only loopback): redirects point at non-loopback addresses.
. "$(dirname "$0")/fetcher_lib.sh"
in_netns "$0"
. "$(dirname "$0")/lib.sh"

make_test_ca
start_fixture
H=http://benign.test:$HP
HS=https://secure.test:$SP

fx "benign page" "$H/benign"
expect_eq "benign: safe, 200, title" "true safe 200 Welcome to the example shop" \
  "$(field ok verdict httpStatus facts.title)"
expect_eq "benign: documented score" 10 "$(field riskScore)"

fx "benign over https" "$HS/benign"
expect_eq "https: safe, status" "safe 200" "$(field verdict httpStatus)"
expect_match "https: TLS version and issuer" "^TLSv1\.[23] .*safeurl test CA" "$(field tls.version tls.issuer)"
expect_match "https: certificate validity" "GMT.*GMT" "$(field tls.notBefore tls.notAfter)"

fx "phishing login" "$H/phish"
expect_eq "phishing: malicious, documented score" "malicious 75" "$(field verdict riskScore)"
expect_match "phishing: credentials posted to another origin" "HTML_PASSWORD_FIELD.*HTML_CROSS_ORIGIN_FORM.*HTML_CREDENTIALS_CROSS_ORIGIN" "$(field reasons.code)"

fx "hidden iframe" "$H/iframe"
expect_eq "iframe: malicious, documented score" "malicious 70" "$(field verdict riskScore)"
expect_match "iframe: reasons" "HTML_HIDDEN_IFRAME,HTML_OBFUSCATED_SCRIPT" "$(field reasons.code)"

fx "executable download" "$HS/setup.exe"
expect_eq "exe: suspicious, sniffed, documented score" "suspicious executable 60" "$(field verdict facts.sniffedType riskScore)"
expect_match "exe: reasons" "CONTENT_EXECUTABLE.*CONTENT_ATTACHMENT" "$(field reasons.code)"

fx "executable disguised as png" "$H/cat.png"
expect_eq "disguised exe: malicious, documented score" "malicious 75" "$(field verdict riskScore)"
expect_match "disguised exe: mismatch" "CONTENT_TYPE_MISMATCH" "$(field reasons.code)"

fx "eicar" "$H/eicar.com"
expect_eq "eicar: malicious, score" "malicious 100" "$(field verdict riskScore)"
expect_match "eicar: reason" "CONTENT_EICAR" "$(field reasons.code)"
expect_eq "eicar: sha256 of the body" \
  "$(printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' | sha256sum | cut -d' ' -f1)" \
  "$(field sha256)"

fx "404 is a result" "$H/nothing-here"
expect_eq "404: ok, status" "true 404" "$(field ok httpStatus)"

fx "redirect chain" "$H/chain/3"
expect_eq "chain: 4 redirects then safe" "safe 200 $H/benign" "$(field verdict httpStatus finalUrl)"
expect_eq "chain: hops" "$H/chain/3,$H/chain/2,$H/chain/1,$H/chain/0" "$(field redirects.url)"
expect_match "chain: long chain noted" HTTP_LONG_REDIRECT_CHAIN "$(field reasons.code)"

fx "redirects at the limit" --max-redirects 5 "$H/chain/4"
expect_eq "chain/4: 5 redirects allowed" "true safe 5" "$(field ok verdict redirects.#)"
fx "redirects past the limit" --max-redirects 5 "$H/chain/5"
expect_eq "chain/5: 6 redirects refused" "false TOO_MANY_REDIRECTS false" "$(field ok error.code error.retryable)"
fx "redirect loop" --max-redirects 2 "$H/loop"
expect_eq "loop: error, 3 hops" "TOO_MANY_REDIRECTS 3" "$(field error.code redirects.#)"

fx "redirect to metadata" "$H/to/http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F"
expect_eq "metadata: blocked after one hop" "true blocked BLOCKED_METADATA http://169.254.169.254/latest/meta-data/" \
  "$(field ok verdict reasons.code finalUrl)"
expect_eq "metadata: the hop is listed" "$H/to/http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F" "$(field redirects.url)"

fx "redirect to private address" "$HS/to/http%3A%2F%2F10.1.2.3%3A8080%2Fadmin"
expect_eq "private: blocked" "blocked BLOCKED_PRIVATE" "$(field verdict reasons.code)"

fx "redirect to a name that resolves inside" --resolve "intranet.test:8080:192.168.7.7" \
  "$H/to/http%3A%2F%2Fintranet.test%3A8080%2F"
expect_eq "name inside: blocked" "blocked BLOCKED_PRIVATE" "$(field verdict reasons.code)"
expect_match "name inside: message names host and address" "intranet.test.*192\.168\.7\.7" "$(field reasons.message)"

fx "redirect to another scheme" "$H/to/file%3A%2F%2F%2Fetc%2Fpasswd"
expect_eq "file scheme: blocked" "blocked BLOCKED_SCHEME" "$(field verdict reasons.code)"

fx "https to http downgrade" "$HS/to/http%3A%2F%2Fbenign.test%3A$HP%2Fbenign"
expect_match "downgrade noted" HTTP_TLS_DOWNGRADE "$(field reasons.code)"

fx "slow drip" --timeout 1500 "$H/slow"
expect_eq "slow: timeout, retryable" "false TIMEOUT true" "$(field ok error.code error.retryable)"

size=$(python3 -c "import sys; sys.path.insert(0, '$S/tests/fixtures'); import fetcher_fixture as f; print(len(f.BIG))")
fx "body at the cap" --max-body-bytes "$size" "$H/page100k"
expect_eq "body at the cap: analysed" "true $size" "$(field ok contentLength)"
expect_eq "body at the cap: not truncated" 0 "$(field reasons.code | grep -c BODY_TRUNCATED)"
fx "body one byte past the cap" --max-body-bytes "$((size - 1))" "$H/page100k"
expect_eq "body past the cap: first bytes analysed" "true safe $((size - 1)) Big page" \
  "$(field ok verdict contentLength facts.title)"
expect_match "body past the cap: truncated" BODY_TRUNCATED "$(field reasons.code)"
fx "wire bytes one past the cap" --max-download-bytes "$((size - 1))" "$H/page100k"
expect_eq "wire past the cap: analysed" "true safe" "$(field ok verdict)"
expect_match "wire past the cap: truncated" BODY_TRUNCATED "$(field reasons.code)"

fx "endless body" --max-download-bytes 1048576 "$H/endless"
expect_eq "endless: analysed" "true" "$(field ok)"
expect_match "endless: truncated" BODY_TRUNCATED "$(field reasons.code)"

fx "gzip bomb" --max-body-bytes 1048576 "$H/bomb"
expect_eq "bomb: stopped on decompressed size, analysed" "true 1048576" "$(field ok contentLength)"
expect_match "bomb: truncated" BODY_TRUNCATED "$(field reasons.code)"

fx "oversized headers" "$H/big-headers"
expect_eq "headers: too large" "HEADERS_TOO_LARGE" "$(field error.code)"

fx "refused connection" "http://127.0.0.1:$(free_port)/"
expect_eq "closed port: connect failed" "false CONNECT_FAILED false" "$(field ok error.code error.retryable)"

set +e
"$B/safeurl-fetcher" --allow-loopback --ports 1024-65535 "${RESOLVE[@]}" "$HS/benign" >"$T/out.json" 2>/dev/null
set -e
expect_eq "unknown CA: TLS error" "TLS_ERROR" "$(field error.code)"
fx "certificate for another name" --resolve "other.test:$SP:127.0.0.1" "https://other.test:$SP/benign"
expect_eq "wrong name: TLS error" "TLS_ERROR" "$(field error.code)"

fx "unresolvable name" "http://no-such-host.invalid:$HP/"
expect_match "unresolvable: DNS error" "^DNS_(NXDOMAIN|FAILURE)$" "$(field error.code)"

printf '# test list\nbenign.test\n' > "$T/domains"
fx "domain blocklist" --blocklist-domains "$T/domains" "$H/benign"
expect_match "domain blocklist: malicious" "^malicious .*BLOCKLIST_DOMAIN" "$(field verdict reasons.code)"
fx "benign again" "$H/benign"
field sha256 > "$T/sha"
fx "sha256 blocklist" --blocklist-sha256 "$T/sha" "$H/benign"
expect_match "sha256 blocklist: malicious" "^malicious .*BLOCKLIST_SHA256" "$(field verdict reasons.code)"
printf '%s\n' "$H/chain/0" > "$T/urls"
fx "url blocklist (a hop)" --blocklist-urls "$T/urls" "$H/chain/1"
expect_match "url blocklist: malicious" "^malicious .*BLOCKLIST_URL" "$(field verdict reasons.code)"

# User brands and YARA rules (compiled with yarac, as operators do).
printf 'exampleshop\tExample Shop\tshop.example\n' > "$T/brands.tsv"
fx "user brand" --brands "$T/brands.tsv" "$H/benign"
expect_match "user brand: the page claims it off its domain" "^safe .*BRAND_IMPERSONATION" "$(field verdict reasons.code)"
printf 'rule plain_page { meta: weight = 45 strings: $a = "nothing to see" condition: $a }\n' > "$T/rules.yar"
yarac "$T/rules.yar" "$T/rules.yarc"
fx "yara rule" --yara-rules "$T/rules.yarc" "$H/benign"
expect_eq "yara rule: a reason with the rule's weight" "suspicious 55" "$(field verdict riskScore)"
expect_match "yara rule: a YARA_MATCH reason" "YARA_MATCH" "$(field reasons.code)"
expect_match "yara rule: named in the message" "rule matched \\(plain_page\\)" "$(field reasons.message)"
# The same rules compiled by the CLI; a rule error names file and line.
expect_eq "safeurl rules compile" "$T/cli.yarc" "$("$B/safeurl" rules compile "$T/rules.yar" "$T/cli.yarc")"
fx "yara rule compiled by the CLI" --yara-rules "$T/cli.yarc" "$H/benign"
expect_eq "cli-compiled rule: same verdict" "suspicious 55" "$(field verdict riskScore)"
printf 'rule broken { strings: $a = "x" condition: $b }\n' > "$T/broken.yar"
set +e
"$B/safeurl" rules compile "$T/broken.yar" "$T/broken.yarc" 2>"$T/err.txt"; rc=$?
set -e
expect_eq "rule error exits 65" 65 "$rc"
expect_match "rule error names file and line" "'$T/broken.yar': line 1: undefined string" "$(cat "$T/err.txt")"
for bad in "--brands $T/rules.yar" "--yara-rules $T/rules.yar" "--yara-rules $T/missing.yarc"; do
  set +e
  # shellcheck disable=SC2086
  "$B/safeurl-fetcher" $bad "$H/benign" >"$T/out.json" 2>"$T/err.txt"; rc=$?
  set -e
  expect_eq "bad file '$bad' exits 64" 64 "$rc"
  expect_match "bad file '$bad' is named" "${bad#* }" "$(cat "$T/err.txt")"
done

# The defaults block loopback: no test hook, no fetch.
set +e
"$B/safeurl-fetcher" --ports 1024-65535 "${RESOLVE[@]}" "$H/benign" >"$T/out.json"
set -e
expect_eq "defaults block loopback" "blocked BLOCKED_LOOPBACK" "$(field verdict reasons.code)"
set +e
"$B/safeurl-fetcher" --allow-loopback "${RESOLVE[@]}" "$H/benign" >"$T/out.json"
set -e
expect_eq "default ports policy" "blocked BLOCKED_PORT" "$(field verdict reasons.code)"

for args in "" "--max-redirects 99 http://x.test/" "--bogus http://x.test/" "http://a.test/ http://b.test/" "--timeout"; do
  set +e
  # shellcheck disable=SC2086
  "$B/safeurl-fetcher" $args >"$T/out.json" 2>"$T/err.txt"; rc=$?
  set -e
  expect_eq "usage error '$args' exits 64" 64 "$rc"
  expect_eq "usage error '$args' prints nothing on stdout" 0 "$(wc -c < "$T/out.json")"
done

finish
