#!/usr/bin/env bash
# Replays the seed story against `mtlsgate serve alb --api` with the AWS CLI, then proves with
# curl what clients see: target group (health check matcher 403), load balancer, trust store from
# a bundle in S3 (the bad root first, refused with ALB's basic-constraints message), a verify-mode
# listener on ELBSecurityPolicy-TLS13-1-3-2021-06, then a revocation. Exits non-zero on the first
# difference. Last, the external target (profile: alb) certifies the listener black-box, as it
# would a real ALB. Ports can be moved with API_PORT, LISTENER_PORT and ECHO_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

API_PORT=${API_PORT:-14566}
LISTENER_PORT=${LISTENER_PORT:-18443}
ECHO_PORT=${ECHO_PORT:-18080}

fail() { echo "alb-awscli: FAIL: $*" >&2; exit 1; }
step() { echo "alb-awscli: $*"; }
# ran LOG: the Ginkgo run in LOG selected at least one spec and every spec it ran passed.
ran() {
  local plain selected passed
  plain=$(sed -E 's/\x1b\[[0-9;]*m//g' "$1") # Ginkgo colours its summary even into a file
  selected=$(sed -nE 's/.*Ran ([0-9]+) of [0-9]+ Specs.*/\1/p' <<<"$plain" | tail -1)
  passed=$(sed -nE 's/.* ([0-9]+) Passed .*/\1/p' <<<"$plain" | tail -1)
  [ -n "$selected" ] && [ "$selected" -gt 0 ] && [ "$selected" = "$passed" ]
}

command -v aws >/dev/null || fail "no aws on PATH; install awscli 1.45 or later (pip install awscli)"
command -v curl >/dev/null || fail "no curl on PATH"
if ! aws elbv2 create-trust-store --generate-cli-skeleton >/dev/null 2>&1; then
  fail "$(command -v aws) ($(aws --version 2>&1)) does not know 'aws elbv2 create-trust-store': its service model predates ALB trust stores (Debian 12's awscli 2.9.19 does). Use awscli 1.45+ or AWS CLI v2.14+."
fi

go build -o bin/mtlsgate ./cmd/mtlsgate
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The endpoint verifies every call's SigV4 signature against the key pair the CLI signs with.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
bin/mtlsgate pki --out "$work/pki" >/dev/null
bin/mtlsgate serve upstream --http "127.0.0.1:$ECHO_PORT" >"$work/upstream.log" 2>&1 &
pids+=($!)
bin/mtlsgate serve alb --api "127.0.0.1:$API_PORT" --state "$work/state" --api-verify-sigv4 >"$work/alb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$API_PORT/" && curl -s -o /dev/null "http://127.0.0.1:$ECHO_PORT/" && break
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$API_PORT/" || { cat "$work/alb.log" >&2; fail "the endpoint did not come up"; }

awsx() { aws --endpoint-url "http://127.0.0.1:$API_PORT" "$@"; }
pki=$work/pki

step "S3: bucket and objects"
awsx s3 mb s3://pki >/dev/null
for f in ca.crt not-a-ca.crt crl.pem; do awsx s3 cp "$pki/$f" "s3://pki/$f" >/dev/null; done
awsx s3 ls s3://pki/ | grep -q ca.crt || fail "aws s3 ls does not list ca.crt"

step "ACM: import the listener's certificate"
CERT_ARN=$(awsx acm import-certificate --certificate "fileb://$pki/server.crt" --private-key "fileb://$pki/server.key" \
  --query CertificateArn --output text)

step "target group with health check matcher 403, and its target"
TG_ARN=$(awsx elbv2 create-target-group --name echo --protocol HTTP --port "$ECHO_PORT" --target-type ip \
  --health-check-path /status/403 --matcher HttpCode=403 \
  --health-check-interval-seconds 5 --health-check-timeout-seconds 2 --healthy-threshold-count 2 --query 'TargetGroups[0].TargetGroupArn' --output text)
awsx elbv2 register-targets --target-group-arn "$TG_ARN" --targets Id=127.0.0.1

step "load balancer"
LB_ARN=$(awsx elbv2 create-load-balancer --name mtls-demo --query 'LoadBalancers[0].LoadBalancerArn' --output text)

step "trust store from the bad root: refused"
if out=$(awsx elbv2 create-trust-store --name demo --ca-certificates-bundle-s3-bucket pki \
  --ca-certificates-bundle-s3-key not-a-ca.crt 2>&1); then
  fail "the bundle of a root without the CA basic constraint was accepted"
fi
echo "$out" | grep -q "InvalidCaCertificatesBundle" || fail "bad root: want InvalidCaCertificatesBundle, got: $out"
echo "  $out"
echo "$out" | grep -q "The basic constraints extension must specify that the certificate is for a CA" ||
  fail "bad root: want ALB's basic-constraints message, got: $out"

step "trust store from ca.crt"
TS_ARN=$(awsx elbv2 create-trust-store --name demo --ca-certificates-bundle-s3-bucket pki \
  --ca-certificates-bundle-s3-key ca.crt --query 'TrustStores[0].TrustStoreArn' --output text)

step "listener in verify mode with ELBSecurityPolicy-TLS13-1-3-2021-06"
LISTENER_ARN=$(awsx elbv2 create-listener --load-balancer-arn "$LB_ARN" --protocol HTTPS --port "$LISTENER_PORT" \
  --ssl-policy ELBSecurityPolicy-TLS13-1-3-2021-06 --certificates "CertificateArn=$CERT_ARN" \
  --default-actions "Type=forward,TargetGroupArn=$TG_ARN" \
  --mutual-authentication "Mode=verify,TrustStoreArn=$TS_ARN" --query 'Listeners[0].ListenerArn' --output text)

url="https://127.0.0.1:$LISTENER_PORT/anything"
tls=(--cacert "$pki/ca.crt")
status() { curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" "$@" "$url" || true; }

step "curl: what clients see"
[ "$(status --cert "$pki/client.crt" --key "$pki/client.key")" = 200 ] || fail "good client: want 200"
curl -s "${tls[@]}" --cert "$pki/client.crt" --key "$pki/client.key" "$url" | grep -q X-Amzn-Mtls-Clientcert-Subject ||
  fail "the target did not see X-Amzn-Mtls-Clientcert-Subject"
[ "$(status)" = 000 ] || fail "no client certificate: want a failed handshake"
[ "$(status --cert "$pki/client-unknown-ca.crt" --key "$pki/client-unknown-ca.key")" = 000 ] || fail "untrusted client: want a failed handshake"
[ "$(status --cert "$pki/client-expired.crt" --key "$pki/client-expired.key")" = 000 ] || fail "expired client: want a failed handshake"
[ "$(status --tls-max 1.2 --cert "$pki/client.crt" --key "$pki/client.key")" = 000 ] || fail "TLS 1.2 client: want a failed handshake"
[ "$(status --cert "$pki/client-revoked.crt" --key "$pki/client-revoked.key")" = 200 ] || fail "revoked client before the CRL: want 200"

step "revocation: add crl.pem"
awsx elbv2 add-trust-store-revocations --trust-store-arn "$TS_ARN" \
  --revocation-contents S3Bucket=pki,S3Key=crl.pem,RevocationType=CRL --query 'TrustStoreRevocations[0].NumberOfRevokedEntries' --output text | grep -qx 1 ||
  fail "add-trust-store-revocations: want 1 revoked entry"
[ "$(status --cert "$pki/client-revoked.crt" --key "$pki/client-revoked.key")" = 000 ] || fail "revoked client after the CRL: want a failed handshake"
[ "$(status --cert "$pki/client.crt" --key "$pki/client.key")" = 200 ] || fail "good client after the CRL: want 200"

step "a trust store in use cannot be deleted"
if out=$(awsx elbv2 delete-trust-store --trust-store-arn "$TS_ARN" 2>&1); then fail "deleted a trust store a listener uses"; fi
echo "$out" | grep -q TrustStoreInUse || fail "delete-trust-store: want TrustStoreInUse, got: $out"

step "ELBv2's shapes as the CLI sees them: a page and its NextMarker, ARN checks, the shared-association refusal"
[ "$(awsx elbv2 describe-ssl-policies --page-size 1 --query 'length(SslPolicies)')" = 1 ] || fail "describe-ssl-policies --page-size 1: want one policy"
[ "$(awsx elbv2 describe-ssl-policies --page-size 1 --query NextMarker --output text)" != None ] || fail "describe-ssl-policies --page-size 1: want a NextMarker"
if out=$(awsx elbv2 describe-listeners --listener-arns "$LB_ARN" 2>&1); then fail "a load balancer ARN was taken as a listener ARN"; fi
echo "$out" | grep -qF "ValidationError" && echo "$out" | grep -qF "'$LB_ARN' is not a valid listener ARN" ||
  fail "describe-listeners with a load balancer ARN: want ValidationError naming it, got: $out"
if out=$(awsx elbv2 delete-shared-trust-store-association --trust-store-arn "$TS_ARN" --resource-arn "$LB_ARN" 2>&1); then
  fail "deleted a same-account trust store association"
fi
echo "$out" | grep -q DeleteAssociationSameAccount || fail "delete-shared-trust-store-association: want DeleteAssociationSameAccount, got: $out"

step "the health check's matcher 403 makes the target healthy"
for _ in $(seq 60); do
  state=$(awsx elbv2 describe-target-health --target-group-arn "$TG_ARN" --query 'TargetHealthDescriptions[0].TargetHealth.State' --output text)
  [ "$state" = healthy ] && break
  sleep 1
done
[ "$state" = healthy ] || fail "target health: want healthy, got $state"

step "the external target certifies the listener black-box, as it would a real ALB"
cat >"$work/external.yaml" <<YAML
profile: alb
version: mtlsgate serve alb --api (scripts/alb-awscli.sh)
alb:
  listener_url: $url
  clients:
    good: {cert: $pki/client.crt, key: $pki/client.key}
    untrusted: {cert: $pki/client-unknown-ca.crt, key: $pki/client-unknown-ca.key}
    expired: {cert: $pki/client-expired.crt, key: $pki/client-expired.key}
    revoked: {cert: $pki/client-revoked.crt, key: $pki/client-revoked.key}
YAML
MTLSGATE_TARGET=external MTLSGATE_EXTERNAL="$work/external.yaml" go tool ginkgo run --label-filter=A-MODE-3 ./suites/alb >"$work/external.log" 2>&1 ||
  { cat "$work/external.log" >&2; fail "the external ALB target did not pass its black-box specs"; }
# Every black-box A-MODE-3 entry ran and passed (one per identity; none may be skipped away).
ran "$work/external.log" || { cat "$work/external.log" >&2; fail "the black-box specs did not run against the external target"; }

step "the external target certifies the listener through the ELBv2 API, as it would a real ALB (only the named resources change)"
cat >>"$work/external.yaml" <<YAML
  region: us-east-1
  endpoint_url: http://127.0.0.1:$API_PORT
  listener_arn: $LISTENER_ARN
  trust_store_arn: $TS_ARN
  bucket: pki
  echo: true
YAML
MTLSGATE_TARGET=external MTLSGATE_EXTERNAL="$work/external.yaml" go tool ginkgo run --label-filter=A-API-1 \
  --json-report=ginkgo.json --output-dir="$work/report" ./suites/alb >"$work/external-api.log" 2>&1 ||
  { cat "$work/external-api.log" >&2; fail "the external ALB target did not pass the ELBv2 API specs"; }
ran "$work/external-api.log" || { cat "$work/external-api.log" >&2; fail "the ELBv2 API specs did not run against the external target"; }

step "the conformance report names what was certified: the region, the listener and the trust store"
bin/mtlsgate report --ginkgo-json "$work/report/ginkgo.json" --out "$work/report" --profiles alb --ids A-API-1 --target external >/dev/null
for want in "region: us-east-1" "listener: $LISTENER_ARN" "trust store: $TS_ARN"; do
  grep -qF -- "$want" "$work/report/conformance.yaml" || fail "conformance.yaml does not name '$want'"
done

echo "alb-awscli: PASS (the seed story through the AWS CLI, curl sees ALB's verify mode, the external target certifies it)"
