package haproxyconf

// luaScript is rendered next to every haproxy.cfg (lua-load): the X-Amzn-Mtls-* values HAProxy's
// converters cannot spell (a URL-encoded PEM, ALB's validity format). It only formats; OpenSSL
// decides whether a certificate is let in.
const luaScript = `
-- Rendered by mtlsgate (harness/haproxyconf): the X-Amzn-Mtls-* values HAProxy's converters
-- cannot spell. Sample fetches only; nothing here decides whether a client is let in.

-- ALB's URL-encoded PEM: base64 in 64-character lines, space as %20 and newline as %0A; the
-- base64 alphabet's +, / and = stay literal.
local function pem(txn, der)
	local b64 = txn.c:base64(der)
	local out = { "-----BEGIN%20CERTIFICATE-----" }
	for i = 1, #b64, 64 do
		out[#out + 1] = b64:sub(i, i + 63)
	end
	out[#out + 1] = "-----END%20CERTIFICATE-----"
	return table.concat(out, "%0A") .. "%0A"
end

-- split cuts concatenated DER certificates at their outer SEQUENCE lengths (bounded by the input).
local function split(der)
	local certs = {}
	local pos = 1
	while pos + 1 <= #der do
		if der:byte(pos) ~= 0x30 then
			break
		end
		local b = der:byte(pos + 1)
		local len, hdr = b, 2
		if b >= 0x80 then
			local n = b - 0x80
			if n < 1 or n > 4 or pos + 1 + n > #der then
				break
			end
			len = 0
			for k = 1, n do
				len = len * 256 + der:byte(pos + 1 + k)
			end
			hdr = 2 + n
		end
		local stop = pos + hdr + len - 1
		if stop > #der then
			break
		end
		certs[#certs + 1] = der:sub(pos, stop)
		pos = stop + 1
	end
	return certs
end

-- mtls_leaf_pem: the client's leaf certificate (A-HDR-1 -Leaf).
core.register_fetches("mtls_leaf_pem", function(txn)
	local leaf = txn.f:ssl_c_der()
	if leaf == nil or leaf == "" then
		return ""
	end
	return pem(txn, leaf)
end)

-- mtls_chain_pem: the chain the client sent, leaf first (A-MODE-2).
core.register_fetches("mtls_chain_pem", function(txn)
	local leaf = txn.f:ssl_c_der()
	if leaf == nil or leaf == "" then
		return ""
	end
	local parts = { pem(txn, leaf) }
	local chain = txn.f:ssl_c_chain_der()
	if chain ~= nil then
		for _, c in ipairs(split(chain)) do
			if c ~= leaf then
				parts[#parts + 1] = pem(txn, c)
			end
		end
	end
	return table.concat(parts)
end)

-- iso turns an ASN.1 UTCTime (YYMMDDhhmmssZ, RFC 5280's 1950-2049 window) or GeneralizedTime
-- (YYYYMMDDhhmmssZ) into 2006-01-02T15:04:05Z.
local function iso(t)
	if t == nil then
		return "-"
	end
	if #t == 13 then
		local yy = tonumber(t:sub(1, 2))
		if yy == nil then
			return "-"
		end
		t = (yy < 50 and "20" or "19") .. t
	end
	if #t ~= 15 then
		return "-"
	end
	return string.format("%s-%s-%sT%s:%s:%sZ", t:sub(1, 4), t:sub(5, 6), t:sub(7, 8), t:sub(9, 10), t:sub(11, 12), t:sub(13, 14))
end

-- mtls_validity: NotBefore=…;NotAfter=… (A-HDR-1 -Validity).
core.register_fetches("mtls_validity", function(txn)
	local nb = txn.f:ssl_c_notbefore()
	if nb == nil or nb == "" then
		return ""
	end
	return "NotBefore=" .. iso(nb) .. ";NotAfter=" .. iso(txn.f:ssl_c_notafter())
end)
`
